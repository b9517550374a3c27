"""Every verb's exit codes, in process, through the one entry point: 0 clean, 1 findings or bad input, 2 usage.
The cluster and Vault are stand-ins answering as the real clients do (their own tests are under unit/clients)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ameide_secrets import cli
from ameide_secrets.checks import smoke, vault_keys
from ameide_secrets.clients import kubernetes
from ameide_secrets.clients.vault import Answer, Vault
from ameide_secrets.offline import preview, revision
from ameide_secrets.project import Project

from helpers import HeldVault, held_login, stack_for


class FakeCluster:
    """The cluster as clients/kubernetes.py hands it over: ExternalSecrets by (namespace, name), Secrets' key names."""

    def __init__(self, external_secrets: dict[tuple[str, str], dict[str, Any]], secrets: dict[tuple[str, str], frozenset[str]]):
        self.listed, self.secrets = external_secrets, secrets

    def external_secrets(self) -> dict[tuple[str, str], dict[str, Any]]:
        return self.listed

    def secret_keys(self, namespaces: list[str] | None = None) -> dict[tuple[str, str], frozenset[str]]:
        return {where: keys for where, keys in self.secrets.items() if namespaces is None or where[0] in namespaces}

    def workloads(self, namespaces: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """No Deployment, Pod or Job reads any Secret."""
        return []

    def sync_errors(self) -> dict[tuple[str, str], str]:
        """ESO has reported no error."""
        return {}


def synced_cluster(stack: str) -> FakeCluster:
    """Every object `stack`'s modules expect, synced from its current spec, every Secret with its keys."""
    external_secrets, secrets = {}, {}
    for item in smoke.expected(stack_for(stack)):
        where = (item.namespace, item.name)
        if item.kind == "Secret":
            secrets[where] = frozenset({"password"})
            continue
        external_secrets[where] = {
            "metadata": {"namespace": item.namespace, "name": item.name, "generation": 1},
            "status": {
                "syncedResourceVersion": "1-abc",
                "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}],
            },
        }
        if item.target is not None:
            secrets[(item.namespace, item.target)] = frozenset(item.keys)
    return FakeCluster(external_secrets, secrets)


class FakeVault:
    """Vault answering with the field names each key holds; a key not there answers 404."""

    def __init__(self, secrets: dict[str, frozenset[str]]) -> None:
        self.secrets = secrets

    def fields(self, key: str, version: str | None = None, metadata: bool = False) -> Answer:
        return Answer(200, self.secrets[key]) if key in self.secrets else Answer(404)

    def path(self, key: str, metadata: bool = False) -> str:
        return f"secret/data/{key}"


def complete_vault(stack: str) -> FakeVault:
    """A Vault holding every key and property `stack` reads (one field where a ref reads the whole secret)."""
    held: dict[str, set[str]] = {}
    for reference in vault_keys.references(stack_for(stack)):
        held.setdefault(reference.ref.key, set()).add(reference.property or "value")
    return FakeVault({key: frozenset(fields) for key, fields in held.items()})


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Set `cluster` or `vault` in the returned dict: precheck and smoke see that cluster, vault-check that Vault."""
    chosen: dict[str, Any] = {}
    monkeypatch.setattr(kubernetes.Cluster, "for_stack", staticmethod(lambda _settings, _context=None: chosen["cluster"]))
    monkeypatch.setattr(Vault, "from_environment", staticmethod(lambda _mount, _version: chosen["vault"]))
    monkeypatch.setattr(revision, "preview_at", lambda _root, _rev, stack, fmt: preview.render(Project(), stack, fmt).output)
    return chosen


def outside_prefix() -> FakeCluster:
    """An ExternalSecret nobody declared in `ameide`, reading another namespace's key through the platform store."""
    es = {
        "metadata": {"namespace": "ameide", "name": "old"},
        "spec": {
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "ameide-vault"},
            "data": [{"secretKey": "k", "remoteRef": {"key": "alertmanager/oauth2-proxy"}}],
        },
    }
    return FakeCluster({("ameide", "old"): es}, {})


def without_one_external_secret() -> FakeCluster:
    cluster = synced_cluster("staging")
    cluster.listed.pop(next(iter(cluster.listed)))
    return cluster


Case = tuple[str, list[str], dict[str, Callable[[], object]], int]
CASES: dict[str, list[Case]] = {
    # verb: [(case, argv, stand-ins, exit code)]; {tmp} is a directory holding no project.
    "preview": [
        ("clean", ["preview", "--stack", "local", "--format", "yaml"], {}, 0),
        ("unknown stack", ["preview", "--stack", "qa"], {}, 1),
        ("usage", ["preview"], {}, 2),
    ],
    "diff": [
        ("clean", ["diff", "--base", "HEAD"], {}, 0),
        ("unknown stack", ["diff", "--base", "HEAD", "--stack", "qa"], {}, 1),
        ("usage", ["diff"], {}, 2),
    ],
    "rollout": [
        ("clean", ["rollout", "--format", "json"], {}, 0),
        ("outside a project", ["rollout", "--root", "{tmp}"], {}, 1),
        ("usage", ["rollout", "--format", "xml"], {}, 2),
    ],
    "legacy": [
        ("import, unreadable chart", ["legacy", "import", "{tmp}/missing.yaml", "--team", "growth"], {}, 1),
        ("compare, unreadable chart", ["legacy", "compare", "{tmp}/missing.yaml", "--stack", "staging"], {}, 1),
        ("usage", ["legacy"], {}, 2),
    ],
    "vault-check": [
        ("clean", ["vault-check", "--stack", "staging"], {"vault": lambda: complete_vault("staging")}, 0),
        ("keys missing", ["vault-check", "--stack", "staging"], {"vault": lambda: FakeVault({})}, 1),
        ("unknown stack", ["vault-check", "--stack", "qa"], {}, 1),
        (
            "identity held",
            ["vault-check", "--stack", "staging", "--identity"],
            {"vault": lambda: HeldVault(held_login(stack_for("staging").vault))},
            0,
        ),
        ("identity gone", ["vault-check", "--stack", "staging", "--identity"], {"vault": lambda: HeldVault({})}, 1),
        ("usage", ["vault-check"], {}, 2),
        ("identity or ages", ["vault-check", "--stack", "staging", "--identity", "--max-age", "90d"], {}, 2),
    ],
    "precheck": [
        ("clean", ["precheck", "--stack", "staging"], {"cluster": lambda: FakeCluster({}, {})}, 0),
        ("unjudged reader", ["precheck", "--stack", "staging"], {"cluster": outside_prefix}, 1),
        ("unknown stack", ["precheck", "--stack", "qa"], {}, 1),
        ("usage", ["precheck", "--format", "xml"], {}, 2),
    ],
    "lineage": [
        ("clean", ["lineage", "--stack", "staging"], {"cluster": lambda: synced_cluster("staging")}, 0),
        ("unknown stack", ["lineage", "--stack", "qa"], {}, 1),
        ("usage", ["lineage", "--format", "xml"], {}, 2),
    ],
    "smoke": [
        ("clean", ["smoke", "--stack", "staging", "--timeout", "0"], {"cluster": lambda: synced_cluster("staging")}, 0),
        ("one missing", ["smoke", "--stack", "staging", "--timeout", "0"], {"cluster": without_one_external_secret}, 1),
        ("unknown stack", ["smoke", "--stack", "qa"], {}, 1),
        ("usage", ["smoke"], {}, 2),
    ],
    "recover": [
        ("unknown stack", ["recover", "--stack", "qa"], {}, 1),
        ("usage", ["recover"], {}, 2),
    ],
}


def test_cases_when_listed_then_every_verb_has_each_exit_code() -> None:
    """legacy's clean runs need a project to import into and a chart to compare (tests/unit/test_legacy.py has
    them), recover's a Pulumi CLI (tests/unit/cli/test_recover.py runs a stand-in)."""
    assert set(CASES) == set(cli.VERBS)
    for verb, cases in CASES.items():
        assert {code for *_, code in cases} == ({1, 2} if verb in ("legacy", "recover") else {0, 1, 2}), verb
    # lineage's findings (a broken reference) need pods reading Secrets: tests/unit/lineage has them.


@pytest.mark.parametrize(
    ("argv", "stand_in", "code"),
    [
        pytest.param(argv, stand_in, code, id=f"{verb}: {case}")
        for verb, cases in CASES.items()
        for case, argv, stand_in, code in cases
    ],
)
def test_verb_when_run_then_exits_with_its_documented_code(
    stand_ins: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stand_in: dict[str, Any],
    code: int,
) -> None:
    stand_ins.update({name: make() for name, make in stand_in.items()})
    arguments = [argument.replace("{tmp}", str(tmp_path)) for argument in argv]
    if code == 2:
        with pytest.raises(SystemExit) as exited:
            cli.main(arguments)
        assert exited.value.code == 2
        assert "usage: ameide-secrets" in capsys.readouterr().err
        return
    assert cli.main(arguments) == code
    out, err = capsys.readouterr()
    if code == 1:
        assert (out + err).strip(), "a failing verb says why"
    assert "Traceback" not in err


@pytest.mark.parametrize(("cluster", "failing"), [(lambda: synced_cluster("staging"), 0), (without_one_external_secret, 1)])
def test_smoke_when_run_then_its_summary_counts_what_is_synced_and_present(
    stand_ins: dict[str, Any], capsys: pytest.CaptureFixture[str], cluster: Callable[[], FakeCluster], failing: int
) -> None:
    stand_ins["cluster"] = cluster()
    cli.main(["smoke", "--stack", "staging", "--timeout", "0"])
    total = len(smoke.expected(stack_for("staging")))
    assert f"staging: {total - failing} of {total} objects synced and present" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("broken", "last"),
    [
        (0, "Vault holds ESO's login as stack staging declares it; if logins are still refused, the refusal is Kubernetes': "),
        (1, "ESO's Vault login for stack staging: 1 piece gone or changed"),
        (2, "ESO's Vault login for stack staging: 2 pieces gone or changed"),
    ],
)
def test_vault_check_identity_when_run_then_its_last_line_says_what_holds(
    stand_ins: dict[str, Any], capsys: pytest.CaptureFixture[str], broken: int, last: str
) -> None:
    held = held_login(stack_for("staging").vault)
    for path in sorted(p for p in held if p.startswith("sys/policies/acl/"))[:broken]:
        held.pop(path)
    stand_ins["vault"] = HeldVault(held)
    cli.main(["vault-check", "--stack", "staging", "--identity"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == broken + 1
    assert lines[-1].startswith(last)
