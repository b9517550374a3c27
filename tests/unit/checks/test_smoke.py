"""checks/smoke.py's verdicts on cluster objects (the real cluster runs it in tests/e2e/test_cluster_scenario.py)."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace
from typing import Any

import pytest

from ameide_secrets.checks import smoke
from ameide_secrets.checks.smoke import Expected, check, expected
from ameide_secrets.declare.contract import ExternalSecretSpec
from ameide_secrets.declare.inventory import DeclaredWorkload

from helpers import stack_for

MODULE = "workloads/identity/keycloak.py"
ES = Expected(MODULE, "ExternalSecret", "ameide", "keycloak-db", "keycloak-db", ("KC_DB_PASSWORD", "KC_DB_USERNAME"))
EXISTING = Expected(MODULE, "Secret", "ameide", "postgres-ameide-auth")


def external_secret(
    generation: int = 2,
    synced_generation: int = 2,
    reason: str = "SecretSynced",
    status: str | None = None,
    before: tuple[dict[str, str], ...] = (),
) -> dict[str, Any]:
    """An ExternalSecret as ESO reports it; its Ready condition (status True for SecretSynced unless `status`
    says otherwise) comes after the conditions `before`."""
    ready = {
        "type": "Ready",
        "status": status or ("True" if reason == "SecretSynced" else "False"),
        "reason": reason,
        "message": "could not get secret data from provider" if reason != "SecretSynced" else "ok",
    }
    return {
        "metadata": {"namespace": "ameide", "name": "keycloak-db", "generation": generation},
        "status": {
            "syncedResourceVersion": f"{synced_generation}-e35430a31283a3e9b90b36491b31f1e9",
            "conditions": [*before, ready],
        },
    }  # fmt: skip


def secret(*keys: str) -> frozenset[str]:
    """A Secret as the Kubernetes client hands it over: its key names (clients/kubernetes.py drops the values)."""
    return frozenset(keys)


GOOD_SECRETS = {
    ("ameide", "keycloak-db"): secret("KC_DB_PASSWORD", "KC_DB_USERNAME", "extra"),
    ("ameide", "postgres-ameide-auth"): secret("password"),
}


def verdicts(
    external_secrets: dict[tuple[str, str], dict[str, Any]], secrets: dict[tuple[str, str], frozenset[str]]
) -> list[str]:
    return [str(f) for f in check([ES, EXISTING], external_secrets, secrets)]


def test_smoke_when_synced_from_current_generation_and_keys_present_then_no_failure() -> None:
    assert verdicts({("ameide", "keycloak-db"): external_secret()}, GOOD_SECRETS) == []


@pytest.mark.parametrize(
    ("es", "secrets", "problem"),
    [
        (None, GOOD_SECRETS, "ExternalSecret ameide/keycloak-db: does not exist on the cluster"),
        (external_secret(reason="SecretSyncedError"), GOOD_SECRETS,
         "ExternalSecret ameide/keycloak-db: not synced: SecretSyncedError: could not get secret data from provider"),
        # ESO sets Ready=True for SecretDeleted and SecretMissing too: only SecretSynced means synced.
        (external_secret(reason="SecretDeleted", status="True"), GOOD_SECRETS,
         "ExternalSecret ameide/keycloak-db: not synced: SecretDeleted: could not get secret data from provider"),
        (external_secret(reason="SecretMissing", status="True"), GOOD_SECRETS,
         "ExternalSecret ameide/keycloak-db: not synced: SecretMissing: could not get secret data from provider"),
        # Another condition listed first, true and synced-looking, does not stand in for Ready.
        (external_secret(reason="SecretSyncedError", before=({"type": "Deleted", "status": "True", "reason": "SecretSynced"},)),
         GOOD_SECRETS,
         "ExternalSecret ameide/keycloak-db: not synced: SecretSyncedError: could not get secret data from provider"),
        # The case waitFor cannot see: Ready, but from the spec before the update.
        (external_secret(generation=3, synced_generation=2), GOOD_SECRETS,
         "ExternalSecret ameide/keycloak-db: Ready is from an older spec: ESO last synced generation 2, the object is at 3"),
        (external_secret(), {k: v for k, v in GOOD_SECRETS.items() if k[1] != "keycloak-db"},
         "ExternalSecret ameide/keycloak-db: its Secret keycloak-db does not exist"),
        (external_secret(), {**GOOD_SECRETS, ("ameide", "keycloak-db"): secret("KC_DB_USERNAME")},
         "ExternalSecret ameide/keycloak-db: its Secret keycloak-db lacks the declared keys KC_DB_PASSWORD"),
        (external_secret(), {k: v for k, v in GOOD_SECRETS.items() if k[1] != "postgres-ameide-auth"},
         "Secret ameide/postgres-ameide-auth: does not exist (existing_secrets names a Secret something else must create)"),
    ],
)  # fmt: skip
def test_smoke_when_object_wrong_then_failure_names_module_object_and_problem(
    es: dict[str, Any] | None, secrets: dict[tuple[str, str], frozenset[str]], problem: str
) -> None:
    external_secrets = {} if es is None else {("ameide", "keycloak-db"): es}
    assert verdicts(external_secrets, secrets) == [f"{MODULE}: {problem}"]


SEALED = "error processing spec.data[0] (key: keycloak/database), err: cannot read secret data from Vault: Code: 503. Errors: * Vault is sealed"


def test_smoke_when_sync_failed_then_names_esos_last_error_on_the_same_line() -> None:
    failing = {("ameide", "keycloak-db"): external_secret(reason="SecretSyncedError")}
    found = [str(f) for f in check([ES], failing, GOOD_SECRETS, {("ameide", "keycloak-db"): SEALED})]
    assert found == [
        f"{MODULE}: ExternalSecret ameide/keycloak-db: not synced: SecretSyncedError: could not get secret data from provider"
        f" (ESO's last error: {SEALED})"
    ]


def test_smoke_when_eso_never_reconciled_the_object_then_says_so_and_asks_whether_eso_runs() -> None:
    # What `pulumi up` left with the ESO controller down: the object as created, no status at all.
    created = {k: v for k, v in external_secret().items() if k != "status"}
    assert verdicts({("ameide", "keycloak-db"): created}, GOOD_SECRETS) == [
        f"{MODULE}: ExternalSecret ameide/keycloak-db: not synced: ESO has not reconciled it (no status): "
        "is the ESO controller running, and watching this namespace?"
    ]


def test_smoke_when_synced_then_an_old_error_is_not_reported() -> None:
    assert [
        str(f)
        for f in check([ES], {("ameide", "keycloak-db"): external_secret()}, GOOD_SECRETS, {("ameide", "keycloak-db"): SEALED})
    ] == []


def test_smoke_when_ready_is_not_the_first_condition_then_it_is_still_the_one_judged() -> None:
    listed_after = external_secret(before=({"type": "Deleted", "status": "False", "reason": "SecretDeleted"},))
    assert verdicts({("ameide", "keycloak-db"): listed_after}, GOOD_SECRETS) == []


@pytest.mark.parametrize(("creation_policy", "secret_expected"), [("None", False), ("Owner", True), ("Merge", True)])
def test_smoke_when_a_module_sets_creation_policy_then_a_secret_is_expected_unless_none(
    creation_policy: str, secret_expected: bool
) -> None:
    """From a stack's modules (`expected`) to the verdict: an ExternalSecret that writes nothing has no Secret to find."""
    stack = stack_for("staging")
    [keycloak] = [d for d in stack.owned if d.args.workload == "keycloak"]
    spec = ExternalSecretSpec(name="keycloak-db", creation_policy=creation_policy, deletion_policy="Retain",
                              data={"KC_DB_PASSWORD": "keycloak/db"})  # fmt: skip
    args = keycloak.args.model_copy(update={"external_secrets": [spec], "existing_secrets": []})
    wanted = expected(dataclasses.replace(stack, owned=(DeclaredWorkload(args, MODULE),)))
    assert [(w.kind, w.name, w.target) for w in wanted] == [
        ("ExternalSecret", "keycloak-db", "keycloak-db" if secret_expected else None)
    ]
    found = [str(f) for f in check(wanted, {("ameide", "keycloak-db"): external_secret()}, {})]
    assert found == (
        [f"{MODULE}: ExternalSecret ameide/keycloak-db: its Secret keycloak-db does not exist"] if secret_expected else []
    )


def test_run_when_everything_synced_then_returns_at_once_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    def sleep(_: float) -> None:
        raise AssertionError("slept though nothing failed")

    monkeypatch.setattr(smoke, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    assert (
        smoke.run([ES, EXISTING], lambda: ({("ameide", "keycloak-db"): external_secret()}, GOOD_SECRETS, {}), timeout=600) == []
    )


def test_run_when_eso_settles_after_a_while_then_retried_until_synced_and_failures_left_at_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr(
        smoke, "time", SimpleNamespace(monotonic=lambda: clock[0], sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    )
    states = iter([external_secret(generation=3, synced_generation=2)] * 2 + [external_secret(generation=3, synced_generation=3)])
    assert (
        smoke.run([ES, EXISTING], lambda: ({("ameide", "keycloak-db"): next(states)}, GOOD_SECRETS, {}), timeout=10, interval=2)
        == []
    )
    assert clock[0] == 4  # two waits, then synced
    stale = external_secret(generation=3, synced_generation=2)
    [left] = smoke.run([ES, EXISTING], lambda: ({("ameide", "keycloak-db"): stale}, GOOD_SECRETS, {}), timeout=10, interval=2)
    assert "Ready is from an older spec" in str(left)
    assert clock[0] == 4 + 10
