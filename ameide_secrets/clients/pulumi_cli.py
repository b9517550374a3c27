"""The Pulumi CLI as the product drives it (`recover`): `pulumi` on PATH, in the project's directory, one stack.

A subprocess, not the SDK: what runs is exactly what a person would type, with the backend, passphrase and
kubeconfig of the caller's environment. Checkpoints follow `checkpoints.py` (never skipped outside a preview).
A failed command raises `PulumiError` with the CLI's own error lines.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ameide_secrets import checkpoints
from ameide_secrets.findings import InputError

TIMEOUT = 900.0
"""Seconds any one command may take (a refresh reads every object of the stack)."""


def empty_sidecars(backend_url: str, project: str, stack: str) -> list[Path]:
    """The stack's checkpoint sidecars (`<stack>.json.attrs`, …) a killed write left empty, on a `file://` backend.

    The file backend (gocloud.dev's fileblob) renames each checkpoint into place atomically, but writes its
    metadata sidecar with a plain create-then-write first: a SIGKILL between the two leaves an empty
    `.attrs` file, and every later command on the stack fails with `failed to load checkpoint: EOF` (the
    checkpoint itself is the previous, intact one). An empty sidecar holds nothing; without one fileblob
    uses its defaults. Other backends have none."""
    if not backend_url.startswith("file://"):
        return []
    stacks = Path(backend_url.removeprefix("file://")).expanduser() / ".pulumi" / "stacks" / project
    name = stack.rsplit("/", 1)[-1]
    return sorted(p for p in stacks.glob(f"{name}.json*.attrs") if p.is_file() and p.stat().st_size == 0)


class PulumiError(InputError):
    """The CLI failed, or could not be started: the message holds its error lines."""


def error_lines(output: str) -> str:
    """The `error:` lines of the CLI's output (with what follows each on its own lines), else its last lines."""
    lines = output.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("error:")), None)
    return "\n".join(lines[start:] if start is not None else lines[-10:])


class PulumiCli:
    """`pulumi <command> -s <stack>` in `root`, with the stack's `--config-file` where the command takes one."""

    def __init__(self, root: Path, stack: str, config_file: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self.root, self.stack, self.config_file = root, stack, config_file
        self.env = dict(os.environ if env is None else env)

    def run(self, command: str, *args: str, stdin: str | None = None, config: bool = False) -> str:
        """The command's stdout; `config` passes `--config-file` (commands that run the program or its providers)."""
        argv = ["pulumi", *command.split(), "-s", self.stack, "--non-interactive", *args]
        if config and self.config_file is not None:
            argv += ["--config-file", str(self.config_file.resolve())]
        try:
            completed = subprocess.run(
                argv, cwd=self.root, env=checkpoints.environment(command.split()[0], self.env), input=stdin,
                capture_output=True, text=True, timeout=TIMEOUT, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PulumiError(f"pulumi {command} -s {self.stack}: {error}") from None
        if completed.returncode != 0:
            raise PulumiError(
                f"pulumi {command} -s {self.stack} exited {completed.returncode}:\n"
                + error_lines(completed.stdout + "\n" + completed.stderr)
            )
        return completed.stdout

    def export(self) -> dict[str, Any]:
        """`pulumi stack export`: the stack's state."""
        document: dict[str, Any] = json.loads(self.run("stack export"))
        return document

    def import_state(self, document: Mapping[str, Any]) -> None:
        """`pulumi stack import` of `document` (the CLI checks its integrity first)."""
        self.run("stack import", stdin=json.dumps(document))
