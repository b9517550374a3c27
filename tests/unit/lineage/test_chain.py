"""lineage/chain.py: the declared chain joined with hand-written consumers; edges, unused keys, broken refs, undeclared."""

from __future__ import annotations

from typing import Any

import pytest

from ameide_secrets.lineage.chain import Lineage, Provider, providers, resolve
from ameide_secrets.lineage.consumers import Consumer, Consumption

from helpers import stack_for

NS = "ameide"
MODULE = "workloads/core/app.py"
COMMON = {"namespace": NS, "module": MODULE, "workload": "app", "team": "core"}
APP = Provider(
    **COMMON,
    secret="app-secrets",
    external_secret="app-secrets",
    data={"DB_PASSWORD": ("app/db", "password"), "API_KEY": ("app/api", "value")},
)
COPY = Provider(**COMMON, secret="copy", external_secret="copy-es", data_from=("app/all",))
EXISTING = Provider(**COMMON, secret="postgres-auth", external_secret=None)
LIVE = {
    (NS, "app-secrets"): frozenset({"DB_PASSWORD", "API_KEY"}),
    (NS, "copy"): frozenset({"a", "b"}),
    (NS, "postgres-auth"): frozenset({"password", "username"}),
    (NS, "legacy"): frozenset({"token"}),
}


def consumption(secret: str, key: str | None, via: str = "env", optional: bool = False, **extra: Any) -> Consumption:
    consumer = Consumer(
        kind="Deployment", namespace=extra.pop("namespace", NS), name="web", container="app", via=via, field=f"f.{secret}.{key}"
    )
    return Consumption(consumer=consumer, secret=secret, key=key, optional=optional, **extra)


def lineage(*consumed: Consumption, live: dict[tuple[str, str], frozenset[str]] | None = LIVE) -> Lineage:
    return resolve("staging", [NS], [APP, COPY, EXISTING], consumed, live)


def edges(result: Lineage) -> list[tuple[Any, ...]]:
    return [(e.vault_key, e.property, e.external_secret, e.secret, e.secret_key, e.source, e.env, e.path) for e in result.edges]


@pytest.mark.parametrize(
    ("consumed", "expected"),
    [
        pytest.param(consumption("app-secrets", "DB_PASSWORD", env="PW"),
                     [("app/db", "password", "app-secrets", "app-secrets", "DB_PASSWORD", "data", "PW", None)], id="env on a data key"),
        pytest.param(consumption("copy", None, via="envFrom", env="C_"),
                     [("app/all", "a", "copy-es", "copy", "a", "data_from", "C_a", None),
                      ("app/all", "b", "copy-es", "copy", "b", "data_from", "C_b", None)], id="envFrom prefix on data_from keys"),
        pytest.param(consumption("app-secrets", None, via="volume"),
                     [("app/api", "value", "app-secrets", "app-secrets", "API_KEY", "data", None, "API_KEY"),
                      ("app/db", "password", "app-secrets", "app-secrets", "DB_PASSWORD", "data", None, "DB_PASSWORD")],
                     id="whole volume"),
        pytest.param(consumption("postgres-auth", "password", via="projected", path="pg/pw"),
                     [(None, None, None, "postgres-auth", "password", "existing", None, "pg/pw")], id="projected item of an existing Secret"),
        pytest.param(consumption("copy", "b", via="volume", path="b"),
                     [("app/all", "b", "copy-es", "copy", "b", "data_from", None, "b")], id="volume item of a data_from key"),
    ],
)  # fmt: skip
def test_resolve_when_consumer_reads_a_provided_key_then_one_edge_per_vault_origin(
    consumed: Consumption, expected: list[tuple[Any, ...]]
) -> None:
    result = lineage(consumed)
    assert edges(result) == expected
    assert (result.broken_refs, result.optional_broken_refs, result.undeclared) == ([], [], [])


def test_resolve_when_key_read_by_nobody_then_unused_and_whole_reads_cover_every_key() -> None:
    result = lineage(consumption("app-secrets", "DB_PASSWORD"), consumption("copy", None, via="envFrom", env=""))
    assert [(u.secret, u.secret_key, u.vault_key, u.property, u.external_secret) for u in result.unused_keys] == [
        ("app-secrets", "API_KEY", "app/api", "value", "app-secrets")
    ]


@pytest.mark.parametrize(
    ("consumed", "problem"),
    [
        (consumption("app-secrets", "GONE"), "ExternalSecret app-secrets (workloads/core/app.py) writes no key 'GONE' into Secret app-secrets"),
        (consumption("copy", "c"), "ExternalSecret copy-es (workloads/core/app.py) writes no key 'c' into Secret copy"),
        (consumption("postgres-auth", "host"), "existing Secret postgres-auth (listed by workloads/core/app.py) has no key 'host'"),
        (consumption("nowhere", None, via="envFrom"),
         "Secret nowhere does not exist, and no ExternalSecret of the stack writes it nor does a module list it"),
        (consumption("legacy", "other"), "Secret legacy (not declared by the stack) has no key 'other'"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("optional", [False, True])
def test_resolve_when_key_or_secret_not_provided_then_broken_naming_it_optional_ones_apart(
    consumed: Consumption, problem: str, optional: bool
) -> None:
    result = lineage(consumed.model_copy(update={"optional": optional}))
    broken, other = (
        (result.optional_broken_refs, result.broken_refs) if optional else (result.broken_refs, result.optional_broken_refs)
    )
    assert [(b.secret, b.key, b.problem, b.optional) for b in broken] == [(consumed.secret, consumed.key, problem, optional)]
    assert other == []
    assert result.edges == []


def test_resolve_when_existing_secret_absent_then_broken() -> None:
    result = lineage(consumption("postgres-auth", None, via="volume"), live={})
    assert [b.problem for b in result.broken_refs] == [
        "existing Secret postgres-auth (listed by workloads/core/app.py) does not exist"
    ]


def test_resolve_when_data_from_secret_not_written_yet_then_non_data_key_broken_data_key_not() -> None:
    copy_and_data = COPY.model_copy(update={"data": {"X": ("app/x", "value")}})
    result = resolve("staging", [NS], [copy_and_data], [consumption("copy", "X"), consumption("copy", "a")], {})
    assert [e.secret_key for e in result.edges] == ["X"]
    assert [b.problem for b in result.broken_refs] == [
        "ExternalSecret copy-es (workloads/core/app.py) declares no key 'a', and its Secret does not exist to show what its data_from copies"
    ]


def test_resolve_when_secret_consumed_that_stack_does_not_know_then_undeclared_with_its_consumers() -> None:
    result = lineage(consumption("legacy", "token"), consumption("nowhere", "k"))
    assert [(u.secret, u.exists, [c.name for c in u.consumers]) for u in result.undeclared] == [
        ("legacy", True, ["web"]),
        ("nowhere", False, ["web"]),
    ]
    assert [b.secret for b in result.broken_refs] == ["nowhere"]


def test_resolve_when_secrets_unreadable_then_data_from_and_existing_not_judged_and_said_so() -> None:
    result = lineage(
        consumption("copy", "a"),
        consumption("postgres-auth", "host"),
        consumption("app-secrets", "GONE"),
        consumption("legacy", "other"),
        live=None,
    )
    assert result.secret_keys_read is False
    assert [(e.secret, e.secret_key, e.source) for e in result.edges] == [
        ("copy", "a", "data_from"),
        ("postgres-auth", "host", "existing"),
    ]
    # A data key is known from the declaration alone: still judged.
    assert [b.key for b in result.broken_refs] == ["GONE"]
    assert [(u.secret, u.exists) for u in result.undeclared] == [("legacy", None)]


def test_resolve_when_consumer_outside_the_stack_s_namespaces_then_ignored() -> None:
    result = lineage(consumption("app-secrets", "GONE", namespace="elsewhere"), consumption("x", "y", namespace="elsewhere"))
    assert (result.broken_refs, result.undeclared, result.edges) == ([], [], [])


def test_resolve_when_several_data_from_keys_then_each_is_named_as_an_origin() -> None:
    two = COPY.model_copy(update={"data_from": ("app/one", "app/two")})
    result = resolve("staging", [NS], [two], [consumption("copy", "a")], {(NS, "copy"): frozenset({"a"})})
    assert [(e.vault_key, e.property) for e in result.edges] == [("app/one", "a"), ("app/two", "a")]


def test_providers_when_real_stack_then_data_keys_with_vault_origins_and_existing_secrets() -> None:
    found = {(p.namespace, p.secret): p for p in providers(stack_for("staging"))}
    plausible = found[("ameide", "plausible-secrets")]
    assert plausible.external_secret == "plausible-secrets"
    assert plausible.module == "workloads/analytics/plausible.py"
    # The string form reads the stack's stringRefProperty.
    assert plausible.data["SECRET_KEY_BASE"] == ("plausible/secret-key-base", "value")
    assert plausible.data["DATABASE_URL"] == ("plausible/database", "url")
    assert found[("ameide", "postgres-ameide-auth")].external_secret is None


@pytest.mark.parametrize(
    ("live", "edges", "broken"),
    [
        ({(NS, "app-secrets"): frozenset({"DB_PASSWORD", "OWN"})}, [("OWN", "existing")], []),
        # Secrets unread: a key of its own cannot be judged.
        (None, [("OWN", "existing")], []),
        ({(NS, "app-secrets"): frozenset({"DB_PASSWORD"})}, [], ["OWN"]),
    ],
)
def test_resolve_when_external_secret_merges_into_a_secret_then_its_own_live_keys_are_provided(
    live: dict[tuple[str, str], frozenset[str]] | None, edges: list[tuple[str, str]], broken: list[str]
) -> None:
    merging = APP.model_copy(update={"merges": True})
    result = resolve("staging", [NS], [merging], [consumption("app-secrets", "OWN")], live)
    assert [(e.secret_key, e.source) for e in result.edges] == edges
    assert [b.key for b in result.broken_refs] == broken
