"""README's "Run the whole system on your machine" and "Add a workload on the loopback clusters", run as
written: up, a real deploy, smoke, a new workload with its grant, its value and Vault's side, down.

A reviewer's new module (every declaration form) is added first: `smoke` passing means its Secret
holds every declared key, and ESO reports it synced from the values `testenv up` seeded. The new
workload's Secret is compared by value with what the block stored in Vault (never printed).

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

from .cluster import Kube, vault_values
from .test_pulumi_engine import NEW_MODULE
from helpers import grant_workload

SECTION = "## Run the whole system on your machine"
JOURNEY = "### Add a workload on the loopback clusters"


def readme_block(heading: str = SECTION) -> str:
    """The first sh block under `heading` in README.md (up to the next heading of its level or above)."""
    text = (REPOSITORY / "README.md").read_text()
    level = heading.split(" ", 1)[0]
    section = text.split(heading, 1)[1]
    section = re.split(rf"\n#{{1,{len(level)}}} ", section, maxsplit=1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"README.md: no sh block under {heading!r}"
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


def test_readme_when_whole_system_and_add_a_workload_blocks_run_then_values_are_vaults_and_nothing_is_left_running(
    tmp_path: Path,
) -> None:
    project = project_copy(tmp_path / "project")
    # A module a reviewer adds before `testenv up`: every declaration form, materialised from the seeded values.
    (project / "workloads/web/reviewer_added.py").write_text(NEW_MODULE)
    grant_workload(project, "web", "reviewer-added")
    environment = tmp_path / "env"
    whole, down_line = readme_block().rstrip("\n").rsplit("\n", 1)
    assert down_line.startswith(".venv/bin/python -m lab.testenv down")
    whole = "\n".join(line for line in whole.splitlines() if not line.startswith("make "))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_", "KUBECONFIG", "AMEIDE_"))}
    clean["AMEIDE_ENGINES"] = str(testenv.engines_dir())  # the copy has no .engines of its own

    def failed(completed: subprocess.CompletedProcess[str]) -> str:
        # Pulumi prints its diagnostics above a long Outputs section: the error lines first, then the tail.
        errors = [line for line in completed.stdout.splitlines() if "error" in line.lower()]
        return "\n".join(errors[:40]) + "\n...\n" + completed.stdout[-2000:] + completed.stderr[-3000:]

    def run(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script.replace("/tmp/ameide-env", str(environment))],
            cwd=project, env=clean, capture_output=True, text=True, timeout=900,
        )  # fmt: skip

    try:
        completed = run(whole)
        assert completed.returncode == 0, failed(completed)
        # The developer's view lists the synced ExternalSecrets of its namespace.
        for name in ("keycloak-db", "reviewer-added-secrets"):
            assert re.search(rf"{name}\s+ClusterSecretStore\s+ameide-vault\s+\S+\s+SecretSynced\s+True", completed.stdout), name
        journey = run(readme_block(JOURNEY))
        assert journey.returncode == 0, failed(journey)
        # What the docs promise: the Secret holds the value the team stored, not a JSON map of fields.
        state = testenv.State.load(environment)
        stored = vault_values(testenv.vault_client(environment, state, "staging"), "secret", "newsletter/api-key")
        assert Kube(environment, "staging").secret_data("ameide", "newsletter-secrets") == {"API_KEY": stored["value"].encode()}
    finally:
        stopped = run(down_line)
    assert "stopped: " in stopped.stderr
    assert processes_in(environment) == []


def test_up_when_directory_held_a_stopped_environment_then_starts_afresh_there(tmp_path: Path) -> None:
    """`down` then `up` in the same directory: nothing of the old state (its passphrase, its stacks) is reused."""
    environment = tmp_path / "env"
    project = project_copy(tmp_path / "project")
    for _ in range(2):
        try:
            testenv.up(environment, project)
            assert testenv.stack_for(environment, "staging", project).name == "staging"
        finally:
            testenv.down(environment)
    assert processes_in(environment) == []
