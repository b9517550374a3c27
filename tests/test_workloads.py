"""The team modules as a whole: the inventory ameide runs, mid-migration, owned by teams."""

from __future__ import annotations

from collections import Counter

from components import inventory
from components.settings import ROOT
from components.spec import Environment

INVENTORY = {
    "minio",
    "postgres",
    "plausible",
    "prometheus",
    "alertmanager",
    "platform",
    "graph",
    "inference",
    "agents",
    "agents-runtime",
    "www",
    "workflows",
    "transformation",
    "threads",
    "keycloak",
    "langfuse",
    "langfuse-bootstrap",
    "flyway",
}


def test_workloads_when_discovered_then_whole_ameide_inventory_is_declared() -> None:
    assert {d.args.workload for d in inventory.discover()} == INVENTORY


def test_workloads_when_rolled_out_then_migration_in_progress() -> None:
    stages = Counter(d.args.rollout for d in inventory.discover())
    assert stages[Environment.PRODUCTION] > len(INVENTORY) / 2
    assert stages[Environment.STAGING] >= 1
    assert stages[Environment.LOCAL] >= 1


def test_workloads_when_cnpg_credentials_used_then_referenced_never_hydrated() -> None:
    declared = inventory.discover()
    users = [d.args.workload for d in declared if "postgres-ameide-auth" in d.args.existing_secrets]
    assert "postgres" in users
    assert "flyway" in users
    targets = {spec.target_name for d in declared for spec in d.args.external_secrets}
    assert "postgres-ameide-auth" not in targets


def test_codeowners_when_team_folder_exists_then_owned_by_that_team() -> None:
    entries = {
        line.split()[0]: line.split()[1:]
        for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    folders = sorted(p.name for p in (ROOT / "workloads").iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert {f"/workloads/{team}/": [f"@ameide/{team}"] for team in folders}.items() <= entries.items()
    listed = sorted(key.split("/")[2] for key in entries if key.startswith("/workloads/"))
    assert listed == folders
