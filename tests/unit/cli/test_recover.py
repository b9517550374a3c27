"""`ameide-secrets recover` against a stand-in `pulumi` on PATH: which commands it runs, in which order, with
which state (the real CLI and cluster run it in tests/e2e/test_faults.py)."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from ameide_secrets.cli import recover
from ameide_secrets.project import REPOSITORY

from helpers import stack_export

# A `pulumi` that logs its arguments, serves the state from a file and refreshes it as the engine would:
# pending operations other than creates go, and so does a recorded object the "cluster" does not have.
FAKE = """\
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
path = os.environ["FAKE_STATE"]
if args[0] == os.environ.get("FAKE_FAIL"):
    print("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.")
    sys.exit(255)
if args[:2] == ["stack", "export"]:
    sys.stdout.write(open(path).read())
elif args[:2] == ["stack", "import"]:
    state = json.loads(sys.stdin.read())
    state["deployment"]["pending_operations"] = []  # as the real CLI does, with a warning for each
    json.dump(state, open(path, "w"))
elif args[0] == "refresh":
    state = json.load(open(path))
    deployment = state["deployment"]
    absent = set(os.environ.get("FAKE_ABSENT", "").split())
    deployment["resources"] = [r for r in deployment["resources"] if r.get("id") not in absent]
    deployment["pending_operations"] = [op for op in deployment["pending_operations"] if op["type"] == "creating"]
    json.dump(state, open(path, "w"))
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    binaries = tmp_path / "bin"
    binaries.mkdir()
    script = binaries / "pulumi"
    script.write_text(f"#!{sys.executable}\n{FAKE}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{binaries}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "log"))
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "state.json"))
    (tmp_path / "log").write_text("")
    return tmp_path


def state(fake: Path, document: dict[str, Any] | None = None) -> dict[str, Any]:
    path = fake / "state.json"
    if document is not None:
        path.write_text(json.dumps(document))
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def commands(fake: Path) -> list[list[str]]:
    return [json.loads(line) for line in (fake / "log").read_text().splitlines()]


def run(*argv: str) -> int:
    return recover.main(["--stack", "staging", "--root", str(REPOSITORY), *argv])


PREFIX = "urn:pulumi:staging::ameide-secrets::"
ES_TYPE = "kubernetes:external-secrets.io/v1:ExternalSecret"
ES_URN = f"{PREFIX}ameide:secrets:WorkloadSecrets${ES_TYPE}::ameide/keycloak-db"
COMPONENT_URN = f"{PREFIX}ameide:secrets:WorkloadSecrets::keycloak"
PENDING = [(ES_URN, ES_TYPE, "creating"), (COMPONENT_URN, "ameide:secrets:WorkloadSecrets", "creating")]


def test_recover_when_own_and_other_pending_creates_then_imports_clears_and_refreshes(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state(fake, stack_export(PENDING))
    assert run() == 0
    assert [c[:2] for c in commands(fake)] == [["stack", "export"], ["stack", "import"], ["refresh", "-s"], ["stack", "export"]]
    assert commands(fake)[2] == ["refresh", "-s", "staging", "--non-interactive", "--yes", "--skip-preview"]
    deployment = state(fake)["deployment"]
    assert deployment["pending_operations"] == []
    assert [(r["urn"], r.get("id")) for r in deployment["resources"]][-1] == (ES_URN, "ameide/keycloak-db")
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"import {ES_TYPE} ameide/keycloak-db as ameide/keycloak-db (pending create of an object of this stack)",
        "clear ameide:secrets:WorkloadSecrets keycloak (pending create of no object of this stack, or already recorded)",
    ]
    assert "staging: 2 pending operations settled; run `pulumi up`" in out.err


def test_recover_when_imported_object_absent_from_the_cluster_then_refresh_drops_it(fake: Path) -> None:
    state(fake, stack_export(PENDING))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAKE_ABSENT", "ameide/keycloak-db")
        assert run() == 0
    assert ES_URN not in {r["urn"] for r in state(fake)["deployment"]["resources"]}


def test_recover_when_no_pending_operation_then_only_reads_the_state(fake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state(fake, stack_export([]))
    assert run("--pulumi-stack", "acme/ameide-secrets/staging") == 0
    assert commands(fake) == [["stack", "export", "-s", "acme/ameide-secrets/staging", "--non-interactive"]]
    assert "staging: no pending operation; `pulumi up` needs no recovery" in capsys.readouterr().err


def test_recover_when_dry_run_then_prints_the_plan_and_changes_nothing(fake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state(fake, stack_export(PENDING))
    assert run("--dry-run", "--format", "json") == 0
    assert [c[:2] for c in commands(fake)] == [["stack", "export"]]
    assert [line["action"] for line in json.loads(capsys.readouterr().out)] == ["import", "clear"]
    assert len(state(fake)["deployment"]["pending_operations"]) == 2


def test_recover_when_config_file_given_then_refresh_reads_it(fake: Path, tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.staging.yaml"
    config.write_text((REPOSITORY / "Pulumi.staging.yaml").read_text())
    state(fake, stack_export(PENDING))
    assert run("--config-file", str(config)) == 0
    refresh = next(c for c in commands(fake) if c[0] == "refresh")
    assert refresh[-2:] == ["--config-file", str(config.resolve())]


def test_recover_when_the_stack_is_locked_then_exit_1_with_the_cli_error_and_state_untouched(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state(fake, stack_export(PENDING))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FAKE_FAIL", "refresh")
        assert run() == 1
    err = capsys.readouterr().err
    assert "pulumi refresh -s staging exited 255:\nerror: the stack is currently locked by 1 lock(s)." in err
    assert "Traceback" not in err


def test_recover_when_pulumi_is_not_on_path_then_exit_1_naming_it(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(fake / "nowhere"))
    assert run() == 1
    assert "pulumi stack export -s staging: " in capsys.readouterr().err


def test_recover_when_a_killed_write_left_an_empty_checkpoint_sidecar_then_removes_it_first(
    fake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """fileblob writes `<stack>.json.attrs` create-then-write: killed between them, every read fails with EOF."""
    stacks = fake / "backend/.pulumi/stacks/ameide-secrets"
    stacks.mkdir(parents=True)
    (stacks / "staging.json.attrs").write_text("")
    (stacks / "staging.json.bak.attrs").write_text('{"user.cache_control":""}\n')
    (stacks / "production.json.attrs").write_text("")
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{fake / 'backend'}")
    state(fake, stack_export([]))
    assert run() == 0
    assert sorted(p.name for p in stacks.iterdir()) == ["production.json.attrs", "staging.json.bak.attrs"]
    assert f"removed {stacks / 'staging.json.attrs'} (empty: a killed checkpoint write left it" in capsys.readouterr().out


def test_recover_when_cancel_asked_then_the_lock_goes_before_the_state_is_read(fake: Path) -> None:
    state(fake, stack_export(PENDING))
    assert run("--cancel") == 0
    assert [c[0] for c in commands(fake)][:2] == ["cancel", "stack"]
    assert commands(fake)[0] == ["cancel", "-s", "staging", "--non-interactive", "--yes"]
