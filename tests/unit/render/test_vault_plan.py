"""rendering/vault_plan.py: the ACL policy's HCL, the role and the auth config, without a Vault."""

from __future__ import annotations

import re

import pytest

from ameide_secrets.declare import inventory
from ameide_secrets.declare.inventory import Grant
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.render import vault_plan

from helpers import discover, registry, settings_for, stack_for

PLAUSIBLE = Grant("ameide", "plausible/", "workloads/analytics/plausible.py", fetch_metadata=False)
PROMETHEUS = Grant("monitoring", "prometheus/", "workloads/observability/prometheus.py", fetch_metadata=True)
_RULE = re.compile(r'^path "([^"]+)" \{\n  capabilities = \[([^\]]*)\]\n\}$', re.M)


def rules(hcl: str) -> dict[str, list[str]]:
    """path -> capabilities, every `path` block of the policy (and nothing else may grant)."""
    found = {path: [c.strip().strip('"') for c in caps.split(",")] for path, caps in _RULE.findall(hcl)}
    assert hcl.count("path ") == len(found)  # no block the pattern missed
    return found


@pytest.fixture
def settings() -> StackSettings:
    return settings_for("staging")


def test_acl_policy_when_kv2_then_read_on_data_path_of_each_prefix_only(settings: StackSettings) -> None:
    assert rules(vault_plan.acl_policy(settings, [PLAUSIBLE, PROMETHEUS])) == {
        "secret/data/plausible/*": ["read"],
        "secret/data/prometheus/*": ["read"],
        "secret/metadata/prometheus/*": ["read"],
    }


def test_acl_policy_when_no_workload_fetches_metadata_then_no_metadata_path(settings: StackSettings) -> None:
    assert rules(vault_plan.acl_policy(settings, [PLAUSIBLE])) == {"secret/data/plausible/*": ["read"]}


def test_acl_policy_when_kv1_then_read_under_mount_and_no_metadata() -> None:
    settings = settings_for("staging", vaultKvVersion="v1", vaultKvMount="kv")
    assert rules(vault_plan.acl_policy(settings, [PLAUSIBLE, PROMETHEUS])) == {
        "kv/plausible/*": ["read"],
        "kv/prometheus/*": ["read"],
    }


def test_acl_policy_when_two_workloads_share_a_prefix_then_one_rule_naming_both(settings: StackSettings) -> None:
    flyway = Grant("ameide", "shared/db/", "workloads/data/flyway.py", fetch_metadata=False)
    postgres = Grant("ameide", "shared/db/", "workloads/data/postgres.py", fetch_metadata=False)
    hcl = vault_plan.acl_policy(settings, [postgres, flyway])
    assert rules(hcl) == {"secret/data/shared/db/*": ["read"]}
    assert '# workloads/data/flyway.py\n# workloads/data/postgres.py\npath "secret/data/shared/db/*"' in hcl


@pytest.mark.parametrize("prefix", ["plausible/../growth/", "secret/plausible/", "data/plausible/", "plausible"])
def test_acl_policy_when_a_prefix_is_not_canonical_then_refused_before_any_policy(settings: StackSettings, prefix: str) -> None:
    """Discovery refuses these first; the policy generator refuses them too, so none can reach Vault."""
    with pytest.raises(ValueError, match=re.escape(f"workloads/analytics/plausible.py: key prefix {prefix!r}")):
        vault_plan.acl_policy(
            settings, [PLAUSIBLE, Grant("ameide", prefix, "workloads/analytics/plausible.py", fetch_metadata=False)]
        )


def test_acl_policy_when_no_grants_then_grants_nothing(settings: StackSettings) -> None:
    hcl = vault_plan.acl_policy(settings, [])
    assert rules(hcl) == {}
    assert hcl.startswith("# Managed by ameide-secrets")


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_acl_policy_when_stack_rendered_then_exactly_the_declared_prefixes_read_only(stack: str) -> None:
    settings = settings_for(stack)
    owned = inventory.owned(discover(), settings.environment)
    granted = rules(vault_plan.acl_policy(settings, inventory.grants(owned, registry())))
    assert granted == {f"secret/data/{d.args.prefix}*": ["read"] for d in owned if d.args.external_secrets}
    # Never the whole mount, never a write or a list.
    assert not {path for path in granted if path in {"secret/*", "secret/data/*", "secret/+/*"}}
    assert {c for caps in granted.values() for c in caps} == {"read"}


def test_audit_policy_when_kv2_then_list_and_read_on_each_prefix_s_metadata_only(settings: StackSettings) -> None:
    hcl = vault_plan.audit_policy(settings, [PLAUSIBLE, PROMETHEUS])
    assert rules(hcl) == {"secret/metadata/plausible/*": ["list", "read"], "secret/metadata/prometheus/*": ["list", "read"]}
    assert '# workloads/analytics/plausible.py\npath "secret/metadata/plausible/*"' in hcl


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_audit_policy_when_stack_rendered_then_every_declared_prefix_s_metadata_and_no_data_path(stack: str) -> None:
    computed = stack_for(stack)
    granted = rules(computed.vault.audit_policy)
    assert set(granted) == {f"secret/metadata/{g.prefix}*" for g in computed.grants}
    assert not [path for path in granted if "/data/" in path or not path.startswith("secret/metadata/")]
    assert {c for caps in granted.values() for c in caps} == {"list", "read"}


def test_audit_policy_when_kv1_then_grants_nothing() -> None:
    assert rules(vault_plan.audit_policy(settings_for("staging", vaultKvVersion="v1", vaultKvMount="kv"), [PLAUSIBLE])) == {}


def test_role_when_shared_then_bound_to_reviewer_in_eso_namespace_carrying_the_union_policy() -> None:
    settings = settings_for("staging", authMode="shared", vaultAudience="")
    assert vault_plan.role(settings, ["monitoring", "ameide"]) == {
        "role_name": "ameide-secrets",
        "bound_service_account_names": ["ameide-vault-auth"],
        "bound_service_account_namespaces": ["external-secrets"],
        "token_policies": ["ameide-vault-read"],
        "token_no_default_policy": True,
        "token_ttl": 600,
        "token_max_ttl": 1200,
    }


def test_role_when_referent_then_grants_nothing_itself_and_names_the_alias_by_account() -> None:
    role = vault_plan.role(settings_for("staging"), ["ameide"])
    assert (role["token_policies"], role["alias_name_source"], role["token_no_default_policy"]) == (
        [],
        "serviceaccount_name",
        True,
    )


def test_identities_when_referent_then_one_entity_alias_and_policy_per_admitted_namespace() -> None:
    settings = settings_for("staging")
    assert vault_plan.identities(settings, ["monitoring", "ameide", "ameide"]) == [
        vault_plan.NamespaceIdentity("ameide", "ameide-vault-ameide", "ameide/ameide-vault-auth", "ameide-vault-read-ameide"),
        vault_plan.NamespaceIdentity(
            "monitoring", "ameide-vault-monitoring", "monitoring/ameide-vault-auth", "ameide-vault-read-monitoring"
        ),
    ]
    assert vault_plan.identities(settings_for("staging", authMode="shared"), ["ameide"]) == []


def test_read_policies_when_referent_then_each_namespace_reads_only_its_own_prefixes() -> None:
    policies = vault_plan.read_policies(settings_for("staging"), ["ameide", "monitoring"], [PLAUSIBLE, PROMETHEUS])
    assert {name: rules(hcl) for name, hcl in policies.items()} == {
        "ameide-vault-read-ameide": {"secret/data/plausible/*": ["read"]},
        "ameide-vault-read-monitoring": {"secret/data/prometheus/*": ["read"], "secret/metadata/prometheus/*": ["read"]},
    }


def test_read_policies_when_shared_then_one_policy_for_every_namespace() -> None:
    policies = vault_plan.read_policies(
        settings_for("staging", authMode="shared"), ["ameide", "monitoring"], [PLAUSIBLE, PROMETHEUS]
    )
    assert list(policies) == ["ameide-vault-read"]
    assert set(rules(policies["ameide-vault-read"])) == {
        "secret/data/plausible/*",
        "secret/data/prometheus/*",
        "secret/metadata/prometheus/*",
    }


def test_role_when_referent_then_bound_to_exactly_the_admitted_namespaces() -> None:
    role = vault_plan.role(settings_for("staging"), ["monitoring", "ameide", "ameide"])
    assert role["bound_service_account_namespaces"] == ["ameide", "monitoring"]
    assert role["bound_service_account_names"] == ["ameide-vault-auth"]
    assert role["audience"] == "vault"


def test_auth_backend_config_when_no_ca_then_host_only(settings: StackSettings) -> None:
    assert vault_plan.auth_backend_config(settings) == {"kubernetes_host": "https://kubernetes.default.svc"}


def test_auth_backend_config_when_ca_set_then_passes_it() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    settings = settings_for("staging", vaultKubernetesHost="https://10.0.0.1:6443/", vaultKubernetesCaCert=pem)
    assert vault_plan.auth_backend_config(settings) == {"kubernetes_host": "https://10.0.0.1:6443", "kubernetes_ca_cert": pem}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_preview_policy_when_rendered_then_reads_configuration_only_never_kv(stack: str) -> None:
    settings = settings_for(stack)
    granted = rules(vault_plan.preview_policy(settings, ["ameide", "monitoring"]))
    # Reading sys/auth/<mount> is a root-protected endpoint: sudo beside read, nowhere else.
    assert {path: caps for path, caps in granted.items() if caps != ["read"]} == {
        f"sys/auth/{settings.vault_auth_mount}": ["read", "sudo"]
    }
    # The only globs are over identity ids, never under the KV mount.
    assert not [path for path in granted if path.startswith(f"{settings.vault_kv_mount}/") or "+" in path]
    assert [path for path in granted if "*" in path] == ["identity/entity/id/*", "identity/entity-alias/id/*"]
    assert "auth/token/create" not in granted
    assert {
        f"auth/{settings.vault_auth_mount}/role/{settings.vault_role}",
        "sys/policy/ameide-vault-read-ameide",
        "sys/policies/acl/ameide-vault-read-monitoring",
        "sys/policies/acl/ameide-vault-audit",
        "identity/entity/name/ameide-vault-monitoring",
    } <= set(granted)
