"""checks/key_ages.py: which Vault versions a stack reads are older than their bound, judged from the times KV v2
metadata answers with (the real OpenBao runs it in tests/e2e/test_lineage.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ameide_secrets.checks import key_ages
from ameide_secrets.clients.vault import Written
from ameide_secrets.declare.contract import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs
from ameide_secrets.declare.inventory import DeclaredWorkload
from ameide_secrets.findings import Finding
from ameide_secrets.project import Project, Stack

NOW = datetime(2025, 6, 1, tzinfo=UTC)


class Times:
    """Vault's metadata answers by (key, version, custom metadata?): days since the version was written."""

    def __init__(self, ages: dict[str, float], answers: dict[str, Written] | None = None) -> None:
        self.ages, self.answers = ages, answers or {}
        self.asked: list[tuple[str, str | None, bool]] = []

    def written(self, key: str, version: str | None = None, metadata: bool = False, now: datetime | None = None) -> Written:
        self.asked.append((key, version, metadata))
        if key in self.answers:
            return self.answers[key]
        if key not in self.ages:
            return Written(404)
        return Written(200, None if metadata else version or "4", NOW - timedelta(days=self.ages[key]))

    def path(self, key: str, metadata: bool = False) -> str:
        return f"secret/{'metadata' if metadata else 'data'}/{key}"


def stack_of(*workloads: WorkloadSecretsArgs) -> Stack:
    project = Project()
    base = project.stack("staging")
    owned = tuple(DeclaredWorkload(w, f"workloads/{w.team}/{w.workload}.py") for w in workloads)
    return Stack(project, "staging", base.config, base.settings, owned)


def verdicts(stack: Stack, vault: Times, max_age: str = "90d") -> list[Finding]:
    return list(key_ages.check(key_ages.reads(stack, max_age), vault, NOW))  # type: ignore[arg-type]


def test_check_when_older_than_max_age_then_overdue_naming_version_time_age_and_bound(
    make_workload: Callable[..., WorkloadSecretsArgs],
) -> None:
    stack = stack_of(make_workload())
    [overdue] = verdicts(stack, Times({"plausible/secret-key-base": 100.5}))
    assert str(overdue) == (
        "workloads/analytics/plausible.py (workload plausible): ExternalSecret ameide/plausible-secrets: "
        "key 'plausible/secret-key-base': version 4 was written 2025-02-20T12:00:00Z, 100d12h ago: older than 90d "
        "(--max-age); rotate it (docs/runbook.md, 'Rotate a secret')"
    )
    assert overdue.extra == {
        "key": "plausible/secret-key-base", "team": "analytics", "version": "4", "bound": "90d", "written": "2025-02-20T12:00:00Z",
        "age": "100d12h", "age_seconds": str(int(100.5 * 86400)), "bound_from": "--max-age",
    }  # fmt: skip
    assert verdicts(stack, Times({"plausible/secret-key-base": 89})) == []


@pytest.mark.parametrize(("age", "overdue"), [(29, False), (31, True)])
def test_check_when_rotate_within_declared_then_it_replaces_max_age_for_its_keys_only(
    make_workload: Callable[..., WorkloadSecretsArgs], age: float, overdue: bool
) -> None:
    stack = stack_of(
        make_workload(
            external_secrets=[
                ExternalSecretSpec(name="plausible-secrets", data={"A": "plausible/a"}, rotate_within="30d"),
                ExternalSecretSpec(name="plausible-other", data={"B": "plausible/b"}),
            ]
        )
    )
    found = verdicts(stack, Times({"plausible/a": age, "plausible/b": age}), max_age="1w")
    assert [(f.extra["key"], f.extra["bound_from"]) for f in found] == [
        ("plausible/b", "--max-age"),
        *([("plausible/a", "rotate_within")] if overdue else []),
    ]


def test_reads_when_several_workloads_then_by_team_and_workload_each_key_once_per_external_secret(
    make_workload: Callable[..., WorkloadSecretsArgs],
) -> None:
    grafana = make_workload(
        workload="grafana",
        team="observability",
        namespace="monitoring",
        external_secrets=[ExternalSecretSpec(name="grafana", data={"U": RemoteRef(key="grafana/admin", property="user"),
                                                                   "P": RemoteRef(key="grafana/admin", property="password")})],
    )  # fmt: skip
    plausible = make_workload(
        external_secrets=[ExternalSecretSpec(name="plausible-secrets", data={"K": "plausible/k"}, data_from=["plausible/all"])]
    )
    reads = key_ages.reads(stack_of(grafana, plausible), "90d")
    assert [(r.team, r.workload, r.key) for r in reads] == [
        ("analytics", "plausible", "plausible/all"),
        ("analytics", "plausible", "plausible/k"),
        ("observability", "grafana", "grafana/admin"),
    ]
    vault = Times({"plausible/all": 1, "plausible/k": 1, "grafana/admin": 1})
    assert verdicts(stack_of(grafana, plausible), vault) == []
    assert sorted(vault.asked) == [("grafana/admin", None, False), ("plausible/all", None, False), ("plausible/k", None, False)]


def test_check_when_version_pinned_or_metadata_fetched_then_asks_for_that_read(
    make_workload: Callable[..., WorkloadSecretsArgs],
) -> None:
    stack = stack_of(
        make_workload(
            external_secrets=[
                ExternalSecretSpec(
                    name="plausible-secrets",
                    data={
                        "V": RemoteRef(key="plausible/v", version="2"),
                        "M": RemoteRef(key="plausible/m", metadataPolicy="Fetch"),
                    },
                )
            ]
        )
    )
    vault = Times({"plausible/v": 200, "plausible/m": 200})
    messages = [f.message for f in verdicts(stack, vault)]
    assert sorted(vault.asked) == [("plausible/m", None, True), ("plausible/v", "2", False)]
    assert [m.split(" was written")[0] for m in messages] == [
        "key 'plausible/m': its custom metadata",
        "key 'plausible/v': version 2",
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Written(404), "key 'plausible/k' does not exist in Vault (secret/metadata/plausible/k); write it"),
        (Written(404, "2"), "key 'plausible/k' has no version 2 in Vault (secret/metadata/plausible/k); write it"),
        (
            Written(403),
            "this token may not read the metadata of key 'plausible/k' (secret/metadata/plausible/k): use the stack's audit token",
        ),
        (Written(503), "Vault answered HTTP 503 for the metadata of key 'plausible/k' (secret/metadata/plausible/k)"),
        # An error status is an error even where the answer carried a time.
        (Written(503, "3", NOW), "Vault answered HTTP 503 for the metadata of key 'plausible/k' (secret/metadata/plausible/k)"),
        (
            Written(200, "3", NOW, readable=False),
            "key 'plausible/k': version 3 is deleted or destroyed, so ESO reads nothing; write a new version",
        ),
    ],
)
def test_check_when_metadata_cannot_answer_then_says_why(
    make_workload: Callable[..., WorkloadSecretsArgs], answer: Written, message: str
) -> None:
    stack = stack_of(make_workload(external_secrets=[ExternalSecretSpec(name="plausible-secrets", data={"K": "plausible/k"})]))
    assert [f.message for f in verdicts(stack, Times({}, {"plausible/k": answer}))] == [message]
