"""The team modules as a whole: the inventory ameide runs, mid-migration, owned by teams."""

from __future__ import annotations

from ameide_secrets.project import REPOSITORY

from helpers import discover


def test_workloads_when_discovered_then_every_team_module_declares_one_workload() -> None:
    modules = sorted(p for p in (REPOSITORY / "workloads").glob("*/*.py") if not p.name.startswith("_"))
    declared = discover()
    assert len(declared) == len(modules) > 0
    assert sorted(d.module for d in declared) == sorted(p.relative_to(REPOSITORY).as_posix() for p in modules)


def test_workloads_when_cnpg_credentials_used_then_referenced_never_hydrated() -> None:
    declared = discover()
    users = [d.args.workload for d in declared if "postgres-ameide-auth" in d.args.existing_secrets]
    assert "postgres" in users
    assert "flyway" in users
    targets = {spec.target_name for d in declared for spec in d.args.external_secrets}
    assert "postgres-ameide-auth" not in targets


def test_codeowners_when_team_folder_exists_then_owned_by_that_team() -> None:
    entries = {
        line.split()[0]: line.split()[1:]
        for line in (REPOSITORY / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    folders = sorted(p.name for p in (REPOSITORY / "workloads").iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert {f"/workloads/{team}/": [f"@ameide/{team}"] for team in folders}.items() <= entries.items()
    listed = sorted(key.split("/")[2] for key in entries if key.startswith("/workloads/"))
    assert listed == folders
