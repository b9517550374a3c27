"""WorkloadSecrets on its own: one ExternalSecret per spec, existing Secrets referenced only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.manifests import external_secret
from components.platform_secret_access import PlatformSecretAccess
from components.spec import ExternalSecretSpec, WorkloadSecretsArgs
from components.workload_secrets import WorkloadSecrets
from tools.harness import RunResult

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
COMPONENT = "ameide:secrets:WorkloadSecrets"


@pytest.fixture
def run_workload(pulumi_run, staging_settings) -> Callable[[WorkloadSecretsArgs], RunResult]:
    """Register the platform and one WorkloadSecrets for `args`, as __main__ does."""

    def run(args: WorkloadSecretsArgs) -> RunResult:
        def program() -> None:
            platform = PlatformSecretAccess("platform", staging_settings, [args.namespace])
            WorkloadSecrets(args.workload, args, platform=platform, refresh_interval="1h")

        return pulumi_run(program)

    return run


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


def test_workload_when_registered_then_inputs_are_the_pure_manifest(run_workload, two_secrets, store) -> None:
    registered = {r.inputs["metadata"]["name"]: r.inputs for r in run_workload(two_secrets).by_type(EXTERNAL_SECRET)}
    assert registered == {spec.name: external_secret(two_secrets, spec, store, "1h") for spec in two_secrets.external_secrets}


def test_workload_when_registered_then_each_externalsecret_waits_for_the_store(run_workload, two_secrets) -> None:
    result = run_workload(two_secrets)
    [store] = result.by_type(STORE)
    assert all(r.depends_on == [store.urn] for r in result.by_type(EXTERNAL_SECRET))


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
