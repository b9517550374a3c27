"""README's "Run the whole system on your machine", run as written: up, a real deploy, smoke, down.

A reviewer's new module (every declaration form) is added first: `tools.smoke` passing means its
Secret holds every declared key, and ESO reports it synced from the values `testenv up` seeded.

`make e2e` has already built the engines and virtualenvs, so the block's `make` line is left out;
the directory is a temporary one. After `down` no process started there may be left.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from ameide_secrets.project import REPOSITORY
from lab import testenv
from lab.testenv import project_copy

from .test_pulumi_engine import NEW_MODULE
from helpers import grant_workload

SECTION = "## Run the whole system on your machine"


def readme_block() -> str:
    text = (REPOSITORY / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"README.md: no sh block under {SECTION!r}"
    return match.group(1)


def processes_in(directory: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cwd").resolve() == directory.resolve():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_readme_when_whole_system_block_runs_then_staging_deploys_syncs_and_nothing_is_left_running(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    # A module a reviewer adds before `testenv up`: every declaration form, materialised from the seeded values.
    (project / "workloads/web/reviewer_added.py").write_text(NEW_MODULE)
    grant_workload(project, "web", "reviewer-added")
    environment = tmp_path / "env"
    script = "\n".join(line for line in readme_block().splitlines() if not line.startswith("make "))
    script = script.replace("/tmp/ameide-env", str(environment))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_", "KUBECONFIG", "AMEIDE_"))}
    clean["AMEIDE_ENGINES"] = str(testenv.engines_dir())  # the copy has no .engines of its own
    try:
        completed = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=project, env=clean, capture_output=True, text=True, timeout=900
        )
    finally:
        subprocess.run([str(project / ".venv/bin/python"), "-m", "lab.testenv", "down", "--dir", str(environment)],
                       cwd=project, capture_output=True, timeout=120)  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    # The developer's view lists the synced ExternalSecrets of its namespace.
    for name in ("keycloak-db", "reviewer-added-secrets"):
        assert re.search(rf"{name}\s+ClusterSecretStore\s+ameide-vault\s+\S+\s+SecretSynced\s+True", completed.stdout), name
    assert "stopped: " in completed.stderr
    assert processes_in(environment) == []
