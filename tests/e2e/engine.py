"""The real Pulumi engine for tests: the CLI and plugins of `make engines`, a file backend, a project copy.

Nothing here reaches outside this machine: `.engines/bin` first on PATH (the CLI finds the
language host and the kubernetes provider there), a temporary PULUMI_HOME (no plugin downloads),
a `file://` backend with a passphrase secrets provider in a temporary directory, and a copy of
the repository's working tree so a test may change a module, a stack file or the program
without touching the checkout.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ameide_secrets import checkpoints
from ameide_secrets.offline.crd_schema import crds_dir
from ameide_secrets.project import REPOSITORY
from lab.testenv import engines_dir, local_pulumi_env, project_copy


@dataclass
class Pulumi:
    """`pulumi` in `project`, with its own home and state."""

    project: Path
    env: dict[str, str]

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project,
            input=stdin,
            env=checkpoints.environment(args[0], self.env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
            )
        return completed

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The project's own Python (its .venv) in the copy, e.g. the offline preview."""
        return subprocess.run(
            [str(self.project / ".venv" / "bin" / "python"), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def stack(self, name: str) -> None:
        """Select `name`, creating it in the file backend on first use (its settings are Pulumi.<name>.yaml)."""
        self.run("stack", "select", "--create", name)

    def set_config(self, stack: str, key: str, value: str) -> None:
        path = self.project / f"Pulumi.{stack}.yaml"
        document: dict[str, Any] = yaml.safe_load(path.read_text())
        document["config"][key] = value
        path.write_text(yaml.safe_dump(document))


def pulumi(tmp: Path) -> Pulumi:
    """A Pulumi CLI over a fresh project copy and file backend under `tmp`."""
    binaries = engines_dir() / "bin"
    if not (binaries / "pulumi").is_file():
        raise AssertionError(f"no Pulumi CLI at {binaries}: run `make engines`")
    (tmp / "state").mkdir()
    (tmp / "home").mkdir()
    env = {
        **local_pulumi_env(tmp, "e2e-only"),
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        # The offline preview in the copy validates against the same CRDs as the checkout.
        "ESO_CRDS_DIR": str(crds_dir(REPOSITORY)),
    }
    return Pulumi(project_copy(tmp / "project"), env)
