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
from typing import Any

from lab import testenv
from lab.testenv import project_copy

from .cluster import Kube, eventually, vault_values
from .test_pulumi_engine import NEW_MODULE
from helpers import doc_block, grant_workload

SECTION = "## Run the whole system on your machine"
JOURNEY = "### Add a workload on the loopback clusters"


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
    whole, down_line = doc_block("README.md", SECTION).rstrip("\n").rsplit("\n", 1)
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
        journey = run(doc_block("README.md", JOURNEY))
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


def test_migration_rehearsal_when_run_as_written_then_the_adopted_object_compares_same_and_keeps_its_uids(
    tmp_path: Path,
) -> None:
    """docs/migration.md's loopback recipe: the legacy chart and its Vault role, the takeover, compare."""
    project = project_copy(tmp_path / "project")
    environment = tmp_path / "env"
    script = doc_block("docs/migration.md", "## Rehearse it on the loopback clusters").replace(
        "/tmp/ameide-migrate", str(environment)
    )
    before, down_line = script.rstrip("\n").rsplit("\n", 1)
    legacy, takeover = before.split("pulumi up ", 1)
    takeover = "pulumi up " + takeover
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_", "KUBECONFIG", "AMEIDE_"))}
    clean["AMEIDE_ENGINES"] = str(testenv.engines_dir())

    def run(text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", text], cwd=project, env=clean, capture_output=True, text=True, timeout=900
        )

    def live(kind: str) -> dict[str, Any]:
        found = Kube(environment, "staging").get(kind, "monitoring", "alertmanager-oauth2-proxy")
        assert found is not None, f"{kind} monitoring/alertmanager-oauth2-proxy is not on the cluster"
        return found

    try:
        first = run(legacy)
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        chart = live("externalsecret")
        # ESO writes the chart's Secret on its first sync, a moment after the install.
        secret = eventually(
            "the chart's Secret", lambda: Kube(environment, "staging").get("secret", "monitoring", chart["metadata"]["name"])
        )
        assert chart["spec"]["secretStoreRef"]["name"] != "ameide-vault"
        second = run(f". {environment}/env.sh\n{takeover}")
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert re.search(r"^same\s+monitoring/alertmanager-oauth2-proxy$", second.stdout, re.M), second.stdout[-3000:]
        assert "(expected: the migration moves it to the platform store)" in second.stdout
        taken = live("externalsecret")
        assert taken["spec"]["secretStoreRef"]["name"] == "ameide-vault"
        assert (taken["metadata"]["uid"], live("secret")["metadata"]["uid"]) == (
            chart["metadata"]["uid"],
            secret["metadata"]["uid"],
        )
    finally:
        stopped = run(down_line)
    assert "stopped: " in stopped.stderr
    assert processes_in(environment) == []
