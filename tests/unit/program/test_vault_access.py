"""VaultAccess on its own: the auth backend, its config, ESO's role and its read-only policy."""

from __future__ import annotations

import pytest

from ameide_secrets.declare.inventory import Grant
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.offline.harness import RunResult
from ameide_secrets.render import vault_plan
from components.vault_access import VaultAccess, VaultAccessArgs

from helpers import settings_for

COMPONENT = "ameide:secrets:VaultAccess"
BACKEND = "vault:index/authBackend:AuthBackend"
CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"
ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
POLICY = "vault:index/policy:Policy"
ENTITY = "vault:identity/entity:Entity"
ALIAS = "vault:identity/entityAlias:EntityAlias"
GRANTS = [Grant("ameide", "plausible/", "workloads/analytics/plausible.py", fetch_metadata=False)]


@pytest.fixture
def vault_run(pulumi_run, staging_settings: StackSettings) -> RunResult:
    return pulumi_run(lambda: VaultAccess("vault", VaultAccessArgs(vault_plan.plan(staging_settings, ["ameide"], GRANTS))))


def test_vault_access_when_created_then_backend_config_role_policies_and_identity_under_component(vault_run: RunResult) -> None:
    [component] = vault_run.by_type(COMPONENT)
    children = [r for r in vault_run.resources if r.type != COMPONENT]
    assert sorted(r.type for r in children) == sorted([BACKEND, CONFIG, ROLE, POLICY, POLICY, POLICY, ENTITY, ALIAS])
    assert all(r.parent == component.urn for r in children)


def test_vault_access_when_created_then_kubernetes_backend_at_configured_mount(vault_run: RunResult) -> None:
    [backend] = vault_run.by_type(BACKEND)
    assert (backend.inputs["type"], backend.inputs["path"]) == ("kubernetes", "kubernetes")
    [config] = vault_run.by_type(CONFIG)
    assert config.inputs == {"backend": "kubernetes", "kubernetesHost": "https://kubernetes.default.svc"}


def test_vault_access_when_created_then_policies_are_the_pure_hcl(vault_run: RunResult, staging_settings: StackSettings) -> None:
    assert {r.name: r.inputs for r in vault_run.by_type(POLICY)} == {
        "ameide-vault-read-ameide": {
            "name": "ameide-vault-read-ameide",
            "policy": vault_plan.acl_policy(staging_settings, GRANTS),
        },
        "ameide-vault-preview": {
            "name": "ameide-vault-preview",
            "policy": vault_plan.preview_policy(staging_settings, ["ameide"]),
        },
        "ameide-vault-audit": {
            "name": "ameide-vault-audit",
            "policy": vault_plan.audit_policy(staging_settings, GRANTS),
        },
    }


def test_vault_access_when_referent_then_namespace_entity_owns_the_login_alias_and_carries_its_policy(
    vault_run: RunResult,
) -> None:
    [entity], [alias] = vault_run.by_type(ENTITY), vault_run.by_type(ALIAS)
    assert (entity.inputs["name"], entity.inputs["policies"]) == ("ameide-vault-ameide", ["ameide-vault-read-ameide"])
    assert alias.inputs["name"] == "ameide/ameide-vault-auth"
    assert {"mountAccessor", "canonicalId"} <= set(alias.inputs)


def test_vault_access_when_created_then_role_waits_for_policies_and_aliases(vault_run: RunResult) -> None:
    [role] = vault_run.by_type(ROLE)
    assert role.inputs == {
        "backend": "kubernetes",
        "roleName": "ameide-secrets",
        "boundServiceAccountNames": ["ameide-vault-auth"],
        "boundServiceAccountNamespaces": ["ameide"],
        "tokenPolicies": [],
        "tokenNoDefaultPolicy": True,
        "tokenTtl": 600,
        "tokenMaxTtl": 1200,
        "aliasNameSource": "serviceaccount_name",
        "audience": "vault",
    }
    # A login before its alias exists would create an entity without policy that blocks the alias.
    waits_for = {r.urn for r in [*vault_run.by_type(POLICY), *vault_run.by_type(ALIAS), *vault_run.by_type(CONFIG)]}
    # The preview's and the audit's policies are other tokens': ESO's login needs neither.
    others = {r.urn for r in vault_run.by_type(POLICY) if r.name in {"ameide-vault-preview", "ameide-vault-audit"}}
    assert waits_for - others <= set(role.depends_on)


def test_vault_access_when_created_then_no_provider_and_no_token_in_inputs(vault_run: RunResult) -> None:
    """Vault's address and token come from VAULT_ADDR / VAULT_TOKEN or vault:address, never from here."""
    vault = [r for r in vault_run.resources if r.type.startswith("vault:")]
    assert all(r.provider == "" for r in vault)
    settings = {"tokenPolicies", "tokenNoDefaultPolicy", "tokenTtl", "tokenMaxTtl"}
    assert not [key for r in vault for key in r.inputs if "token" in key.lower() and key not in settings]


@pytest.mark.parametrize(("stack", "protected"), [("staging", False), ("production", True)])
def test_vault_access_when_stack_protects_then_auth_backend_protected_and_never_disabled(
    pulumi_run, stack: str, protected: bool
) -> None:
    result = pulumi_run(
        lambda: VaultAccess("vault", VaultAccessArgs(vault_plan.plan(settings_for(stack), ["ameide"], GRANTS))), stack=stack
    )
    assert {r.name for r in result.resources if r.protect} == ({"kubernetes-auth"} if protected else set())
    # Disabling the mount would delete every role on it: retained in every stack.
    assert {r.name for r in result.resources if r.retain_on_delete} == {"kubernetes-auth"}


def test_vault_access_when_created_then_outputs_mount_role_and_policy(vault_run: RunResult) -> None:
    [component] = vault_run.by_type(COMPONENT)
    assert vault_run.component_outputs[component.urn] == {
        "authMount": "kubernetes",
        "role": "ameide-secrets",
        "policies": ["ameide-vault-read-ameide"],
        "previewPolicy": "ameide-vault-preview",
        "auditPolicy": "ameide-vault-audit",
    }
