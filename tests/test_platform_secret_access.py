"""PlatformSecretAccess on its own: one store, its identity, nothing per service."""

from __future__ import annotations

import pytest

from components.platform_secret_access import PlatformSecretAccess
from components.settings import StackSettings

STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
COMPONENT = "ameide:secrets:PlatformSecretAccess"


@pytest.fixture
def platform_run(pulumi_run, staging_settings: StackSettings):
    return pulumi_run(lambda: PlatformSecretAccess("platform", staging_settings, ["monitoring", "ameide", "ameide"]))


def test_platform_when_created_then_exactly_store_account_and_binding(platform_run) -> None:
    children = [r for r in platform_run.resources if r.type != COMPONENT]
    assert sorted(r.type for r in children) == sorted([STORE, ACCOUNT, BINDING])
    [component] = platform_run.by_type(COMPONENT)
    assert all(r.parent == component.urn for r in children)


def test_platform_when_created_then_no_externalsecret(platform_run) -> None:
    assert not [r for r in platform_run.resources if r.type.endswith(":ExternalSecret")]


def test_store_when_namespaces_given_then_conditions_admit_only_those(platform_run) -> None:
    [store] = platform_run.by_type(STORE)
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["ameide", "monitoring"]}]
    assert store.inputs["apiVersion"] == "external-secrets.io/v1"


def test_store_when_created_then_depends_on_its_vault_identity(platform_run) -> None:
    [store] = platform_run.by_type(STORE)
    [account] = platform_run.by_type(ACCOUNT)
    [binding] = platform_run.by_type(BINDING)
    assert set(store.depends_on) == {account.urn, binding.urn}


def test_store_when_created_then_vault_kubernetes_auth_uses_reviewer_account(platform_run, staging_settings) -> None:
    [store] = platform_run.by_type(STORE)
    auth = store.inputs["spec"]["provider"]["vault"]["auth"]["kubernetes"]
    assert auth["serviceAccountRef"] == {"name": staging_settings.reviewer_service_account, "namespace": staging_settings.eso_namespace}
    [account] = platform_run.by_type(ACCOUNT)
    assert account.inputs["metadata"]["name"] == staging_settings.reviewer_service_account
    assert account.inputs["metadata"]["namespace"] == staging_settings.eso_namespace


def test_binding_when_created_then_reviewer_gets_auth_delegator(platform_run, staging_settings) -> None:
    [binding] = platform_run.by_type(BINDING)
    assert binding.inputs["roleRef"]["name"] == "system:auth-delegator"
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": staging_settings.reviewer_service_account, "namespace": staging_settings.eso_namespace}
    ]


def test_platform_when_created_then_outputs_store_name_and_kind(platform_run) -> None:
    [component] = platform_run.by_type(COMPONENT)
    assert platform_run.component_outputs[component.urn] == {"storeName": "ameide-vault", "storeKind": "ClusterSecretStore"}
