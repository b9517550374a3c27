"""WorkloadSecrets on its own: one ExternalSecret per spec, existing Secrets referenced only."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pulumi
import pulumi_kubernetes as k8s
import pytest

from ameide_secrets.declare.contract import ExternalSecretSpec, WorkloadSecretsArgs
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.offline.harness import Registration, RunResult
from ameide_secrets.render.manifests import external_secret
from components.platform_secret_access import PlatformSecretAccess, PlatformSecretAccessArgs
from components.workload_secrets import ADOPTS, WorkloadSecrets, WorkloadSecretsComponentArgs

from helpers import platform_objects, settings_for, waits_for, workload_objects

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
COMPONENT = "ameide:secrets:WorkloadSecrets"


@pytest.fixture
def run_workload(pulumi_run, staging_settings) -> Callable[..., RunResult]:
    """Register the platform and one WorkloadSecrets for `args`, wired as __main__ wires them."""

    def run(args: WorkloadSecretsArgs, settings: StackSettings = staging_settings) -> RunResult:
        def program() -> None:
            provider = k8s.Provider("kubernetes", context="ameide-staging")
            adopt = k8s.Provider("kubernetes-adopt", context="ameide-staging", upsert_existing_objects=True)
            platform = PlatformSecretAccess(
                "platform",
                PlatformSecretAccessArgs(platform_objects(settings, [args.namespace], [])),
                opts=pulumi.ResourceOptions(provider=provider),
            )
            WorkloadSecrets(
                args.workload,
                WorkloadSecretsComponentArgs(args, workload_objects(args, settings), platform.registered, adopt),
                opts=pulumi.ResourceOptions(provider=provider),
            )

        return pulumi_run(program)

    return run


def provider_name(result: RunResult, registration: Registration) -> str:
    return next(r.name for r in result.resources if registration.provider.startswith(r.urn + "::"))


@pytest.fixture
def two_secrets(make_workload) -> WorkloadSecretsArgs:
    return make_workload(
        external_secrets=[
            ExternalSecretSpec(name="plausible-secrets", data={"SECRET_KEY_BASE": "plausible/secret-key-base"}),
            ExternalSecretSpec(name="plausible-clickhouse", target="clickhouse", data={"URL": "plausible/clickhouse"}),
        ],
        existing_secrets=["postgres-ameide-auth"],
    )


def test_workload_when_specs_declared_then_one_externalsecret_each_in_its_namespace(run_workload, two_secrets) -> None:
    result = run_workload(two_secrets)
    [component] = result.by_type(COMPONENT)
    secrets = result.by_type(EXTERNAL_SECRET)
    assert sorted(r.name for r in secrets) == ["ameide/plausible-clickhouse", "ameide/plausible-secrets"]
    assert all(r.parent == component.urn for r in secrets)
    assert all(r.inputs["metadata"]["namespace"] == "ameide" for r in secrets)


def test_workload_when_registered_then_inputs_are_the_pure_manifest(run_workload, two_secrets, staging_settings) -> None:
    registered = {r.inputs["metadata"]["name"]: r.inputs for r in run_workload(two_secrets).by_type(EXTERNAL_SECRET)}
    assert registered == {
        spec.name: external_secret(two_secrets, spec, staging_settings) for spec in two_secrets.external_secrets
    }


def test_workload_when_registered_then_each_externalsecret_waits_for_the_store_and_admission_policy(
    run_workload, two_secrets
) -> None:
    result = run_workload(two_secrets)
    [store] = result.by_type(STORE)
    admission = [
        r.urn
        for r in result.resources
        if r.type.startswith("kubernetes:admissionregistration.k8s.io/v1:") and not r.name.endswith("-dry-run-only")
    ]
    assert len(admission) == 6
    # One edge each, to the store, which itself waits for every admission policy and binding.
    assert all(r.depends_on == [store.urn] for r in result.by_type(EXTERNAL_SECRET))
    assert all(waits_for(result, r) >= {store.urn, *admission} for r in result.by_type(EXTERNAL_SECRET))


def test_workload_when_existing_secrets_then_no_externalsecret_and_listed_in_outputs(run_workload, two_secrets) -> None:
    result = run_workload(two_secrets)
    assert "ameide/postgres-ameide-auth" not in [r.name for r in result.resources]
    [component] = result.by_type(COMPONENT)
    assert result.component_outputs[component.urn] == {
        "namespace": "ameide",
        "externalSecrets": ["plausible-secrets", "plausible-clickhouse"],
        "existingSecrets": ["postgres-ameide-auth"],
        "secretNames": ["plausible-secrets", "clickhouse", "postgres-ameide-auth"],
    }


def test_workload_when_only_existing_secrets_then_component_has_no_children(run_workload, make_workload) -> None:
    result = run_workload(make_workload(external_secrets=[], existing_secrets=["postgres-ameide-auth"]))
    [component] = result.by_type(COMPONENT)
    assert [r for r in result.resources if r.parent == component.urn] == []


def test_workload_when_moved_to_another_team_then_externalsecret_keeps_urn(run_workload, make_workload) -> None:
    """Pulumi URNs carry the parent's type, not its name: the child name alone must be stable."""
    before = run_workload(make_workload())
    after = run_workload(make_workload(workload="analytics-web", team="growth", key_prefix="plausible/"))
    assert [r.urn for r in before.by_type(EXTERNAL_SECRET)] == [r.urn for r in after.by_type(EXTERNAL_SECRET)]


@pytest.mark.parametrize(("stack", "protected"), [("local", False), ("staging", False), ("production", True)])
def test_workload_when_stack_protects_then_every_externalsecret_protected(
    run_workload, two_secrets, stack: str, protected: bool
) -> None:
    result = run_workload(two_secrets, settings_for(stack))
    assert [r.protect for r in result.by_type(EXTERNAL_SECRET)] == [protected, protected]


def test_workload_when_one_spec_adopts_then_only_it_uses_upserting_provider(run_workload, make_workload) -> None:
    args = make_workload(
        external_secrets=[
            ExternalSecretSpec(name="plausible-secrets", adopt=True, data={"A": "plausible/a"}),
            ExternalSecretSpec(name="plausible-new", data={"B": "plausible/b"}),
        ]
    )
    result = run_workload(args)
    by_name = {r.name: r for r in result.by_type(EXTERNAL_SECRET)}
    assert provider_name(result, by_name["ameide/plausible-secrets"]) == "kubernetes-adopt"
    assert provider_name(result, by_name["ameide/plausible-new"]) == "kubernetes"
    annotations = {name: r.inputs["metadata"]["annotations"] for name, r in by_name.items()}
    assert annotations["ameide/plausible-secrets"]["pulumi.com/patchForce"] == "true"
    assert "pulumi.com/patchForce" not in annotations["ameide/plausible-new"]


def test_workload_when_one_spec_adopts_then_the_preview_says_so_beside_it_only(
    run_workload, make_workload, caplog: pytest.LogCaptureFixture
) -> None:
    """A real preview shows an upsert as a plain `create`: the note says the live object is kept."""
    args = make_workload(
        external_secrets=[
            ExternalSecretSpec(name="plausible-secrets", adopt=True, data={"A": "plausible/a"}),
            ExternalSecretSpec(name="plausible-new", data={"B": "plausible/b"}),
        ]
    )
    with caplog.at_level(logging.INFO):
        run_workload(args)
    notes = [r.getMessage() for r in caplog.records if "adopts" in r.getMessage()]
    assert notes == [ADOPTS.format(name="ameide/plausible-secrets")]


def test_workload_when_workload_adopts_but_spec_opts_out_then_spec_keeps_default_provider(run_workload, make_workload) -> None:
    args = make_workload(
        adopt=True,
        external_secrets=[
            ExternalSecretSpec(name="plausible-secrets", data={"A": "plausible/a"}),
            ExternalSecretSpec(name="plausible-new", adopt=False, data={"B": "plausible/b"}),
        ],
    )
    result = run_workload(args)
    assert {r.name: provider_name(result, r) for r in result.by_type(EXTERNAL_SECRET)} == {
        "ameide/plausible-secrets": "kubernetes-adopt",
        "ameide/plausible-new": "kubernetes",
    }


def test_workload_when_adopting_without_upserting_provider_then_refuses(pulumi_run, make_workload, staging_settings) -> None:
    args = make_workload(adopt=True)

    with pytest.raises(ValueError, match="plausible-secrets adopts a legacy object but no adopt_provider"):
        WorkloadSecretsComponentArgs(args, workload_objects(args, staging_settings), {})
