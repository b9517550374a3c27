"""checks/vault_identity.py: which piece of ESO's Vault login is gone or changed, one line each, judged from
Vault's configuration answers (the real OpenBao runs it in tests/e2e/test_faults.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ameide_secrets.checks import vault_identity
from ameide_secrets.render.vault_plan import VaultPlan

from helpers import HeldVault, held_login, stack_for


def lines(plan: VaultPlan, vault: HeldVault) -> list[str]:
    return [str(finding) for finding in vault_identity.check(plan, vault, "staging", managed=True)]


@pytest.mark.parametrize("mode", ["referent", "shared"])
@pytest.mark.parametrize("stack", ["staging", "production"])
def test_check_when_vault_holds_the_applied_plan_then_clean(stack: str, mode: str) -> None:
    plan = stack_for(stack, authMode=mode).vault
    assert lines(plan, HeldVault(held_login(plan))) == []


Held = dict[str, dict[str, Any]]


def _without(path: str) -> Callable[[Held], object]:
    return lambda held: held.pop(path)


def _set(path: str, name: str, value: Any) -> Callable[[Held], object]:
    return lambda held: held[path].update({name: value})


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PLAN = stack_for("staging", vaultKubernetesCaCert=PEM).vault
AUTH, [(POLICY_NAME, _)], IDENTITY = f"auth/{PLAN.auth_mount}", sorted(PLAN.read_policies.items())[:1], PLAN.identities[0]
ROLE, CONFIG = f"{AUTH}/role/{PLAN.role_name}", f"{AUTH}/config"
POLICY, ENTITY = f"sys/policies/acl/{POLICY_NAME}", f"identity/entity/name/{IDENTITY.entity}"
BREAKAGES = {
    # breakage: (what it does to Vault, the path named, what the line says)
    "role removed": (
        _without(ROLE),
        ROLE,
        f"ESO's role {PLAN.role_name!r} does not exist: every login of ESO fails with 'invalid role name'",
    ),
    "role rebound": (
        _set(ROLE, "bound_service_account_namespaces", ["elsewhere"]),
        ROLE,
        f"bound_service_account_namespaces is ['elsewhere'], the stack declares {PLAN.role['bound_service_account_namespaces']!r}",
    ),
    "role given the default policy": (
        _set(ROLE, "token_no_default_policy", False),
        ROLE,
        "token_no_default_policy is False, the stack declares True: ESO's logins are refused or get other rights",
    ),
    "policy emptied": (
        _set(POLICY, "policy", 'path "nothing/*" { capabilities = ["deny"] }'),
        POLICY,
        "the policy differs from the declarations: ESO is refused keys they read, or reads others",
    ),
    "policy deleted": (
        _without(POLICY),
        POLICY,
        f"the read policy {POLICY_NAME!r} does not exist: ESO logs in and is refused every key",
    ),
    "auth mount disabled": (
        _without(CONFIG),
        CONFIG,
        f"the kubernetes auth mount {PLAN.auth_mount!r} or its config does not exist: no login of ESO can succeed",
    ),
    "reviewer moved": (
        _set(CONFIG, "kubernetes_host", "https://elsewhere:6443"),
        CONFIG,
        f"kubernetes_host is 'https://elsewhere:6443', the stack declares {PLAN.auth_config['kubernetes_host']!r}: Vault cannot review",
    ),
    # Long values are not printed: the difference is named.
    "CA replaced": (
        _set(CONFIG, "kubernetes_ca_cert", PEM.replace("MIIB", "A" * 200)),
        CONFIG,
        "kubernetes_ca_cert differs from the stack's: Vault cannot review",
    ),
    "entity without its policy": (
        _set(ENTITY, "policies", []),
        ENTITY,
        f"the entity lacks the policy {IDENTITY.policy!r}: ESO reads nothing for namespace {IDENTITY.namespace!r}",
    ),
    "entity without its alias": (
        _set(ENTITY, "aliases", []),
        ENTITY,
        f"the entity has no alias {IDENTITY.alias!r} on {AUTH}/: ESO reads nothing for namespace {IDENTITY.namespace!r}",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_check_when_one_piece_broken_then_one_line_naming_its_path_and_the_repair(breakage: str) -> None:
    held = held_login(PLAN)
    breaks, path, said = BREAKAGES[breakage]
    breaks(held)
    [line] = lines(PLAN, HeldVault(held))
    assert line.startswith(f"Vault {path}: ")
    assert said in line
    assert line.endswith("`pulumi up --refresh -s staging` restores it (VaultAccess owns it)")


def test_check_when_the_token_may_not_read_a_path_then_it_names_the_preview_policy_not_a_breakage() -> None:
    [line] = lines(PLAN, HeldVault(held_login(PLAN), refused=frozenset({ROLE})))
    assert line == (
        f"Vault {ROLE}: this token may not read ESO's role {PLAN.role_name!r}: "
        f"use a token with the stack's preview policy {PLAN.preview_policy_name!r}"
    )


def test_check_when_vault_answers_another_status_then_it_says_which() -> None:
    class Failing(HeldVault):
        def configuration(self, path: str) -> tuple[int, dict[str, Any]]:
            return (500, {}) if path == ROLE else super().configuration(path)

    assert lines(PLAN, Failing(held_login(PLAN))) == [f"Vault {ROLE}: Vault answered HTTP 500 for ESO's role {PLAN.role_name!r}"]


@pytest.mark.parametrize(
    ("bindings", "said"),
    [
        (
            ["ameide-vault-token-reviewer"],
            "check the ClusterRoleBinding ameide-vault-token-reviewer (system:auth-delegator for ESO's identity), which `pulumi up --refresh -s staging` restores",
        ),
        ([], "check the TokenReview Vault's own service account makes"),
    ],
)
def test_hint_when_vault_side_holds_then_it_points_at_kubernetes(bindings: list[str], said: str) -> None:
    hint = vault_identity.hint("staging", bindings)
    assert hint.startswith(
        "Vault holds ESO's login as stack staging declares it; if logins are still refused, the refusal is Kubernetes': "
    )
    assert hint.endswith(said)


def test_check_when_vault_is_not_managed_by_the_stack_then_the_line_says_who_re_applies_it() -> None:
    held = held_login(PLAN)
    held.pop(ROLE)
    [finding] = vault_identity.check(PLAN, HeldVault(held), "staging", managed=False)
    assert finding.message.endswith(
        "re-apply the stack's Vault side with the platform's tooling (vaultManage is off: this program does not write Vault)"
    )
    assert "pulumi up" not in finding.message
