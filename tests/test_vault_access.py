"""VaultAccess on its own: the auth backend, its config, ESO's role and its read-only policy."""

from __future__ import annotations

import pytest

from components import vault_config
from components.inventory import Grant
from components.settings import StackSettings
from components.vault_access import VaultAccess
from tools.harness import RunResult

from conftest import settings_for

COMPONENT = "ameide:secrets:VaultAccess"
BACKEND = "vault:index/authBackend:AuthBackend"
CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"
ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
POLICY = "vault:index/policy:Policy"
GRANTS = [Grant("ameide", "plausible/", "workloads/analytics/plausible.py", fetch_metadata=False)]


@pytest.fixture
def vault_run(pulumi_run, staging_settings: StackSettings) -> RunResult:
    return pulumi_run(lambda: VaultAccess("vault", staging_settings, ["ameide"], GRANTS))


def test_vault_access_when_created_then_backend_config_role_and_policy_under_component(vault_run: RunResult) -> None:
    [component] = vault_run.by_type(COMPONENT)
    children = [r for r in vault_run.resources if r.type != COMPONENT]
    assert sorted(r.type for r in children) == sorted([BACKEND, CONFIG, ROLE, POLICY, POLICY])
    assert all(r.parent == component.urn for r in children)


def test_vault_access_when_created_then_kubernetes_backend_at_configured_mount(vault_run: RunResult) -> None:
    [backend] = vault_run.by_type(BACKEND)
    assert (backend.inputs["type"], backend.inputs["path"]) == ("kubernetes", "kubernetes")
    [config] = vault_run.by_type(CONFIG)
    assert config.inputs == {"backend": "kubernetes", "kubernetesHost": "https://kubernetes.default.svc"}


def test_vault_access_when_created_then_policy_is_the_pure_hcl(vault_run: RunResult, staging_settings: StackSettings) -> None:
    assert {r.name: r.inputs for r in vault_run.by_type(POLICY)} == {
        "ameide-vault-read": {"name": "ameide-vault-read", "policy": vault_config.acl_policy(staging_settings, GRANTS)},
        "ameide-vault-preview": {"name": "ameide-vault-preview", "policy": vault_config.preview_policy(staging_settings)},
    }


def test_vault_access_when_created_then_role_carries_policy_and_waits_for_it(vault_run: RunResult) -> None:
    [role] = vault_run.by_type(ROLE)
    assert role.inputs == {
        "backend": "kubernetes",
        "roleName": "ameide-secrets",
        "boundServiceAccountNames": ["ameide-vault-auth"],
        "boundServiceAccountNamespaces": ["external-secrets"],
        "tokenPolicies": ["ameide-vault-read"],
    }
    [policy] = [r for r in vault_run.by_type(POLICY) if r.name == "ameide-vault-read"]
    [config] = vault_run.by_type(CONFIG)
    assert {policy.urn, config.urn} <= set(role.depends_on)


def test_vault_access_when_created_then_no_provider_and_no_token_in_inputs(vault_run: RunResult) -> None:
    """Vault's address and token come from VAULT_ADDR / VAULT_TOKEN or vault:address, never from here."""
    vault = [r for r in vault_run.resources if r.type.startswith("vault:")]
    assert all(r.provider == "" for r in vault)
    assert not [key for r in vault for key in r.inputs if "token" in key.lower() and key != "tokenPolicies"]


@pytest.mark.parametrize(("stack", "protected"), [("staging", False), ("production", True)])
def test_vault_access_when_stack_protects_then_only_auth_backend_protected(pulumi_run, stack: str, protected: bool) -> None:
    result = pulumi_run(lambda: VaultAccess("vault", settings_for(stack), ["ameide"], GRANTS), stack=stack)
    assert {r.name: r.protect for r in result.resources if r.type != COMPONENT} == {
        "kubernetes-auth": protected,
        "kubernetes-auth-config": False,
        "ameide-secrets": False,
        "ameide-vault-read": False,
        "ameide-vault-preview": False,
    }


def test_vault_access_when_created_then_outputs_mount_role_and_policy(vault_run: RunResult) -> None:
    [component] = vault_run.by_type(COMPONENT)
    assert vault_run.component_outputs[component.urn] == {
        "authMount": "kubernetes",
        "role": "ameide-secrets",
        "policy": "ameide-vault-read",
        "previewPolicy": "ameide-vault-preview",
    }
