"""PlatformSecretAccess on its own: one store, its identity, its admission policy, nothing per service."""

from __future__ import annotations

from typing import Any

import pytest

from ameide_secrets.declare.inventory import Grant
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.offline import harness
from ameide_secrets.render import admission, preview_access, vault_plan
from components import platform_secret_access
from components.platform_secret_access import ADMISSION_REFRESH_SECONDS, PlatformSecretAccess, PlatformSecretAccessArgs
from components.vault_access import VaultAccess, VaultAccessArgs

from helpers import config_for, platform_objects, settings_for

STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
COMPONENT = "ameide:secrets:PlatformSecretAccess"
POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
POLICY_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
GRANTS = [
    Grant("ameide", "plausible/", "workloads/analytics/plausible.py", fetch_metadata=False),
    Grant("monitoring", "prometheus/", "workloads/observability/prometheus.py", fetch_metadata=False),
]


@pytest.fixture
def platform_run(pulumi_run, staging_settings: StackSettings):
    # The store's own objects; the preview identity's are tested on their own below.
    # Vault outside the cluster (a CA given): ESO's identity needs the token-reviewer binding.
    settings = settings_for("staging", previewIdentity="", authMode="shared", vaultKubernetesCaCert=PEM)
    return pulumi_run(
        lambda: PlatformSecretAccess(
            "platform", PlatformSecretAccessArgs(platform_objects(settings, ["monitoring", "ameide", "ameide"], GRANTS))
        )
    )


def test_platform_when_created_then_exactly_store_account_binding_and_three_admission_policies(platform_run) -> None:
    children = [r for r in platform_run.resources if r.type != COMPONENT]
    assert sorted(r.type for r in children) == sorted([STORE, ACCOUNT, BINDING, *[POLICY] * 3, *[POLICY_BINDING] * 3])
    [component] = platform_run.by_type(COMPONENT)
    assert all(r.parent == component.urn for r in children)


def test_platform_when_created_then_no_externalsecret(platform_run) -> None:
    assert not [r for r in platform_run.resources if r.type.endswith(":ExternalSecret")]


def test_store_when_namespaces_given_then_conditions_admit_only_those(platform_run) -> None:
    [store] = platform_run.by_type(STORE)
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["ameide", "monitoring"]}]
    assert store.inputs["apiVersion"] == "external-secrets.io/v1"


def test_store_when_created_then_depends_on_its_vault_identity_and_admission_policies(platform_run) -> None:
    [store] = platform_run.by_type(STORE)
    [account] = platform_run.by_type(ACCOUNT)
    [binding] = platform_run.by_type(BINDING)
    admission = {r.urn for r in [*platform_run.by_type(POLICY), *platform_run.by_type(POLICY_BINDING)]}
    assert len(admission) == 6
    assert set(store.depends_on) == {account.urn, binding.urn, *admission}


def test_store_when_created_then_vault_kubernetes_auth_uses_reviewer_account(platform_run, staging_settings) -> None:
    [store] = platform_run.by_type(STORE)
    auth = store.inputs["spec"]["provider"]["vault"]["auth"]["kubernetes"]
    assert auth["serviceAccountRef"] == {
        "name": staging_settings.reviewer_service_account,
        "namespace": staging_settings.eso_namespace,
        # Vault outside the cluster (this fixture's CA) reviews with this token: the API server's audience too.
        "audiences": ["vault", staging_settings.kubernetes_audience],
    }
    [account] = platform_run.by_type(ACCOUNT)
    assert account.inputs["metadata"]["name"] == staging_settings.reviewer_service_account
    assert account.inputs["metadata"]["namespace"] == staging_settings.eso_namespace


def test_binding_when_vault_outside_cluster_then_reviewer_gets_auth_delegator(platform_run, staging_settings) -> None:
    [binding] = platform_run.by_type(BINDING)
    assert binding.inputs["roleRef"]["name"] == "system:auth-delegator"
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": staging_settings.reviewer_service_account, "namespace": staging_settings.eso_namespace}
    ]


def test_platform_when_created_then_outputs_store_name_and_kind(platform_run) -> None:
    [component] = platform_run.by_type(COMPONENT)
    assert platform_run.component_outputs[component.urn] == {"storeName": "ameide-vault", "storeKind": "ClusterSecretStore"}


# --- admission policy ------------------------------------------------------------------------------


def test_admission_when_created_then_registers_the_pure_policies_and_bindings(platform_run) -> None:
    expected = admission.policies(settings_for("staging", previewIdentity=""), ["monitoring", "ameide", "ameide"], GRANTS)
    # Registration order is concurrent: compare by name.
    assert {r.name: r.inputs for r in platform_run.by_type(POLICY)} == {p["metadata"]["name"]: p for p in expected}
    assert {r.name: r.inputs for r in platform_run.by_type(POLICY_BINDING)} == {
        p["metadata"]["name"]: admission.binding(p) for p in expected
    }


def test_admission_binding_when_created_then_waits_for_its_policy(platform_run) -> None:
    policies = {r.name: r.urn for r in platform_run.by_type(POLICY)}
    for binding in platform_run.by_type(POLICY_BINDING):
        assert binding.depends_on == [policies[binding.name]]


# --- referent vs shared identity --------------------------------------------------------------------


def test_platform_when_referent_then_account_per_namespace_and_store_ref_without_namespace(pulumi_run) -> None:
    settings = settings_for("staging", authMode="referent", previewIdentity="", vaultKubernetesCaCert=PEM)
    result = pulumi_run(
        lambda: PlatformSecretAccess(
            "platform", PlatformSecretAccessArgs(platform_objects(settings, ["monitoring", "ameide"], GRANTS))
        )
    )
    accounts = result.by_type(ACCOUNT)
    assert sorted(r.name for r in accounts) == ["ameide/ameide-vault-auth", "monitoring/ameide-vault-auth"]
    [store] = result.by_type(STORE)
    assert store.inputs["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"] == {
        "name": "ameide-vault-auth",
        "audiences": ["vault", settings.kubernetes_audience],
    }
    assert set(store.depends_on) >= {r.urn for r in accounts}
    [binding] = result.by_type(BINDING)
    assert [s["namespace"] for s in binding.inputs["subjects"]] == ["ameide", "monitoring"]


def test_platform_when_shared_then_no_account_in_workload_namespaces(platform_run) -> None:
    assert [r.name for r in platform_run.by_type(ACCOUNT)] == ["external-secrets/ameide-vault-auth"]


# --- Vault access ---------------------------------------------------------------------------------


def test_store_when_vault_managed_then_waits_for_vault_role_and_policy(pulumi_run, staging_settings) -> None:
    def program() -> None:
        vault = VaultAccess("vault", VaultAccessArgs(vault_plan.plan(staging_settings, ["ameide"], GRANTS)))
        PlatformSecretAccess(
            "platform", PlatformSecretAccessArgs(platform_objects(staging_settings, ["ameide"], GRANTS), vault_ready=vault)
        )

    result = pulumi_run(program)
    [store] = result.by_type(STORE)
    vault_resources = {r.urn for r in result.resources if r.type.startswith("vault:")}
    assert len(vault_resources) == 8  # backend, config, role, preview and audit policies; ameide's policy, entity and alias
    assert vault_resources <= set(store.depends_on)


# --- the preview identity ---------------------------------------------------------------------------


def test_platform_when_preview_identity_set_then_registers_its_role_binding_and_dry_run_policy(
    pulumi_run, staging_settings
) -> None:
    result = pulumi_run(
        lambda: PlatformSecretAccess("platform", PlatformSecretAccessArgs(platform_objects(staging_settings, ["ameide"], GRANTS)))
    )
    registered = {(r.type.rsplit(":", 1)[1], r.name): r.inputs for r in result.resources if "preview" in r.name}
    expected = {(m["kind"], m["metadata"]["name"]): m for m in preview_access.objects(staging_settings)}
    assert registered == expected
    assert len(registered) == 4


def test_platform_when_no_preview_identity_then_nothing_for_previews(platform_run) -> None:
    assert not [r for r in platform_run.resources if "preview" in r.name]


def test_platform_when_vault_runs_in_the_cluster_then_no_cluster_wide_binding(pulumi_run, staging_settings) -> None:
    result = pulumi_run(
        lambda: PlatformSecretAccess("platform", PlatformSecretAccessArgs(platform_objects(staging_settings, ["ameide"], GRANTS)))
    )
    assert not [r for r in result.by_type(BINDING) if "token-reviewer" in r.name]


@pytest.mark.parametrize(("preview", "waits"), [(False, [ADMISSION_REFRESH_SECONDS]), (True, [])])
def test_store_when_up_then_registered_only_after_the_api_server_had_time_to_load_the_policies(
    monkeypatch: pytest.MonkeyPatch, preview: bool, waits: list[float]
) -> None:
    """The API server recompiles admission policies once a second: an ExternalSecret sent at once after a
    grant widens is refused by the old policy (seen on the loopback clusters); a preview never waits."""
    events: list[str] = []
    monkeypatch.setattr(platform_secret_access, "sleep", lambda seconds: events.append(f"sleep {seconds}"))
    record = harness.RecordingMonitor._record

    def recorded(monitor: harness.RecordingMonitor, request: Any, *args: Any, **kwargs: Any) -> None:
        events.append(request.type)
        record(monitor, request, *args, **kwargs)

    monkeypatch.setattr(harness.RecordingMonitor, "_record", recorded)
    settings = settings_for("staging", previewIdentity="")

    def program() -> None:
        PlatformSecretAccess("platform", PlatformSecretAccessArgs(platform_objects(settings, ["ameide"], GRANTS)))

    harness.run("staging", config_for("staging"), program, preview=preview)
    after_policies = events[max(i for i, e in enumerate(events) if e in (POLICY, POLICY_BINDING)) + 1 :]
    assert [e for e in after_policies if e.startswith("sleep") or e == STORE] == [*(f"sleep {s}" for s in waits), STORE]
    assert not [e for e in events[: len(events) - len(after_policies)] if e.startswith("sleep")]
