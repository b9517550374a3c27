"""The whole program (`__main__.py`) per stack, under mocks, as `pulumi preview` would run it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from ameide_secrets.offline import harness
from ameide_secrets.offline.harness import RunResult
from ameide_secrets.project import REPOSITORY, Project

from helpers import STACKS, config_for, grant, project_tree, run_program, stack_for, waits_for

EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
PLATFORM = "ameide:secrets:PlatformSecretAccess"
POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
AUTH_BACKEND = "vault:index/authBackend:AuthBackend"
VAULT_POLICY = "vault:index/policy:Policy"
VAULT_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest, run_stack) -> RunResult:
    return run_stack(request.param)


def external_secret_names(result: RunResult) -> set[str]:
    return {r.name for r in result.by_type(EXTERNAL_SECRET)}


def test_program_when_stack_runs_then_exactly_one_store(stack_run: RunResult) -> None:
    [store] = stack_run.by_type(STORE)
    assert store.inputs["metadata"]["name"] == "ameide-vault"


def test_program_when_stack_runs_then_registers_exactly_the_stacks_objects(stack_run: RunResult) -> None:
    """What Pulumi receives is the Stack's one list of objects (and so what the YAML preview, the schema
    checks and the guardrails see): each object's inputs, what it waits for and its protection."""
    stack = Project().stack(stack_run.stack)
    kubernetes = [r for r in stack_run.resources if r.type.startswith("kubernetes:") and r.custom]
    assert all("kind" in r.inputs for r in kubernetes)  # nothing Kubernetes-side escapes the comparison
    by_key = {(r.inputs["kind"], r.name): r for r in kubernetes}
    assert sorted(by_key) == sorted(o.key for o in stack.objects)
    # Waiting for a component is waiting for each of its resources: Vault's side, where it is managed.
    vault = [r.urn for r in stack_run.resources if r.type.startswith("vault:")]
    for obj in stack.objects:
        registered = by_key[obj.key]
        assert registered.inputs == obj.manifest, obj.key
        expected = {by_key[key].urn for key in obj.after} | (set(vault) if obj.after_vault else set())
        assert set(registered.depends_on) == expected, obj.key
        assert registered.protect is obj.protect


def test_program_when_stack_runs_then_each_stack_owns_exactly_the_workloads_rolled_out_that_far(stack_run: RunResult) -> None:
    """Whatever the modules' rollouts are today: a stack's ExternalSecrets are those of workloads rolled out at least to it."""
    environment = stack_for(stack_run.stack).settings.environment
    expected = {
        f"{d.args.namespace}/{spec.name}"
        for d in Project().declared
        if environment <= d.args.rollout
        for spec in d.args.external_secrets
    }
    assert external_secret_names(stack_run) == expected


def test_program_when_stack_runs_then_owned_workloads_follow_rollout(stack_run: RunResult) -> None:
    environment = stack_for(stack_run.stack).settings.environment
    expected = sorted(d.args.workload for d in Project().declared if environment <= d.args.rollout)
    assert stack_run.outputs["ownedWorkloads"] == expected
    assert stack_run.outputs["environment"] == environment.value


def test_program_when_stack_runs_then_no_externalsecret_under_platform(stack_run: RunResult) -> None:
    [platform] = stack_run.by_type(PLATFORM)
    assert all(r.parent != platform.urn for r in stack_run.by_type(EXTERNAL_SECRET))


def test_program_when_stack_runs_then_every_externalsecret_waits_for_the_store(stack_run: RunResult) -> None:
    [store] = stack_run.by_type(STORE)
    secrets = stack_run.by_type(EXTERNAL_SECRET)
    assert secrets
    assert all(store.urn in r.depends_on for r in secrets)


def test_program_when_stack_runs_then_store_admits_exactly_namespaces_holding_externalsecrets(stack_run: RunResult) -> None:
    [store] = stack_run.by_type(STORE)
    used = sorted({r.inputs["metadata"]["namespace"] for r in stack_run.by_type(EXTERNAL_SECRET)})
    assert store.inputs["spec"]["conditions"] == [{"namespaces": used}]


def provider_of(result: RunResult, registration) -> str:
    return next(r.name for r in result.resources if registration.provider.startswith(r.urn + "::"))


def test_program_when_stack_runs_then_only_adopted_objects_use_upserting_provider(stack_run: RunResult) -> None:
    objects = [r for r in stack_run.resources if r.type.startswith("kubernetes:")]
    expected = {
        r.name: "kubernetes-adopt"
        if r.inputs["metadata"].get("annotations", {}).get("pulumi.com/patchForce") == "true"
        else "kubernetes"
        for r in objects
    }
    assert objects
    assert {r.name: provider_of(stack_run, r) for r in objects} == expected
    # Provider configuration reaches the engine as strings.
    upserting = {r.name: r.inputs.get("upsertExistingObjects") for r in stack_run.by_type("pulumi:providers:kubernetes")}
    assert upserting["kubernetes"] is None
    assert upserting.get("kubernetes-adopt", "true") == "true"


@pytest.mark.parametrize(
    ("stack", "inputs"),
    [
        ("local", {"renderYamlToDirectory": "rendered/local"}),
        ("staging", {"context": "ameide-staging"}),
        ("production", {"context": "ameide-production"}),
    ],
)
def test_program_when_stack_runs_then_providers_target_cluster_or_render_directory(
    stack: str, inputs: dict[str, str], run_stack
) -> None:
    providers = run_stack(stack).by_type("pulumi:providers:kubernetes")
    assert providers
    for provider in providers:
        assert {k: v for k, v in provider.inputs.items() if k in {"context", "renderYamlToDirectory", "kubeconfig"}} == inputs


def test_program_when_stack_runs_then_every_eso_object_passes_eso_crd_schema(stack_run: RunResult, crds) -> None:
    eso = [r.inputs for r in stack_run.resources if r.type.startswith("kubernetes:external-secrets.io/")]
    assert eso
    assert {m["metadata"]["name"]: crds.errors(m) for m in eso} == {m["metadata"]["name"]: [] for m in eso}
    # Nothing the API server would default is left out (no perpetual preview diff).
    assert [crds.with_defaults(m) for m in eso] == eso


def test_program_when_stack_runs_then_every_externalsecret_and_secret_carry_ownership_labels(stack_run: RunResult) -> None:
    for r in stack_run.by_type(EXTERNAL_SECRET):
        labels = r.inputs["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"
        assert labels["ameide.io/workload"]
        assert labels["ameide.io/team"]
        template = r.inputs["spec"]["target"].get("template")
        if template is not None:
            assert {k: template["metadata"]["labels"][k] for k in labels} == labels


def test_program_when_setting_invalid_then_settings_error_names_key() -> None:
    config = {**config_for("staging"), "ameide-secrets:refreshInterval": "hourly"}
    # The program reports it as a RunError: Pulumi prints the message without a traceback.
    with pytest.raises(pulumi.RunError, match=r"ameide-secrets:refreshInterval: 'hourly' must be a Go duration"):
        harness.run_main(REPOSITORY / "__main__.py", "staging", config)


def test_program_when_declaration_invalid_then_fails_before_any_resource(monkeypatch: pytest.MonkeyPatch, write_module) -> None:
    tree = write_module(
        "analytics/plausible.py",
        "from components import WorkloadSecretsArgs\nWORKLOAD = WorkloadSecretsArgs(workload='plausible')\n",
    )
    registered: list[str] = []
    record = harness.RecordingMonitor._record

    def spy(self: harness.RecordingMonitor, request: Any, *args: Any, **kwargs: Any) -> None:
        registered.append(request.name)
        record(self, request, *args, **kwargs)

    monkeypatch.setattr(harness.RecordingMonitor, "_record", spy)
    with pytest.raises(pulumi.RunError, match=r"WORKLOAD.team: required field is missing"):
        harness.run_main(tree.parent / "__main__.py", "staging", config_for("staging"))
    assert registered == []  # not even the provider: nothing half-applied


def test_program_when_workload_added_in_new_namespace_then_store_admits_it(write_module) -> None:
    source = (
        (REPOSITORY / "workloads" / "analytics" / "plausible.py").read_text().replace('namespace="ameide"', 'namespace="growth"')
    )
    tree = write_module("analytics/plausible.py", source)
    [store] = run_program("production", tree.parent, upstream_owned=["plausible"]).by_type(STORE)
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["growth"]}]


def declared_map(result: RunResult) -> dict[str, dict[str, str]]:
    [policy] = [r for r in result.by_type(POLICY) if r.name.endswith("-external-secrets")]
    [declared] = [v["expression"] for v in policy.inputs["spec"]["variables"] if v["name"] == "declared"]
    return dict(json.loads(declared))


def vault_paths(result: RunResult) -> set[str]:
    """The paths of ESO's read policies, all namespaces together (the preview policy reads configuration, never KV)."""
    policies = [r for r in result.by_type(VAULT_POLICY) if "-read" in r.name]
    assert policies
    return {path for policy in policies for path in re.findall(r'^path "([^"]+)"', policy.inputs["policy"], re.M)}


@pytest.mark.parametrize("auth_mode", ["shared", "referent"])
def test_program_when_workload_declared_in_new_namespace_then_store_admission_and_vault_extend_together(
    tmp_path: Path, auth_mode: str, run_stack
) -> None:
    """One new module and its registry grant: every guardrail learns the namespace and prefix from them."""
    before = run_stack("staging", authMode=auth_mode)
    tree = project_tree(tmp_path) / "workloads"
    grant(tmp_path, "growth", ["growth"], ["funnel"])
    (tree / "growth").mkdir()
    (tree / "growth" / "funnel.py").write_text(
        "from components import ExternalSecretSpec, WorkloadSecretsArgs\n"
        "WORKLOAD = WorkloadSecretsArgs(workload='funnel', team='growth', namespace='growth', rollout='staging',\n"
        "    external_secrets=[ExternalSecretSpec(name='funnel-secrets', data={'API_KEY': 'funnel/api-key'})])\n"
    )
    after = run_program("staging", tmp_path, overrides={"authMode": auth_mode})

    [store_before], [store_after] = before.by_type(STORE), after.by_type(STORE)
    assert store_after.inputs["spec"]["conditions"] == [
        {"namespaces": sorted(["growth", *store_before.inputs["spec"]["conditions"][0]["namespaces"]])}
    ]
    assert declared_map(after) == {**declared_map(before), "growth": {"funnel/": "workloads/growth/funnel.py"}}
    assert vault_paths(after) == vault_paths(before) | {"secret/data/funnel/*"}
    [role_before], [role_after] = before.by_type(VAULT_ROLE), after.by_type(VAULT_ROLE)
    bound_before = role_before.inputs["boundServiceAccountNamespaces"]
    expected_bound = sorted([*bound_before, "growth"]) if auth_mode == "referent" else bound_before
    assert role_after.inputs["boundServiceAccountNamespaces"] == expected_bound
    [new] = [r for r in after.by_type(EXTERNAL_SECRET) if r.name == "growth/funnel-secrets"]
    # The policies that judge ExternalSecrets; the preview identity's dry-run policy judges no ExternalSecret.
    assert waits_for(after, new) >= {r.urn for r in after.by_type(POLICY) if not r.name.endswith("-dry-run-only")}


@pytest.mark.parametrize(("stack", "managed"), [("local", False), ("staging", True), ("production", True)])
def test_program_when_stack_runs_then_vault_access_only_where_managed(stack: str, managed: bool, run_stack) -> None:
    result = run_stack(stack)
    vault = [r for r in result.resources if r.type.startswith("vault:") or r.type == "ameide:secrets:VaultAccess"]
    assert bool(vault) is managed
    if managed:
        computed = Project().stack(stack)
        registered = {r.name: r.inputs["policy"] for r in result.by_type(VAULT_POLICY) if "-read" in r.name}
        assert registered == computed.vault.read_policies
        assert len(registered) == len(computed.namespaces)  # referent: Vault keeps each namespace to its own prefixes
        assert vault_paths(result) == {f"secret/data/{d.args.prefix}*" for d in computed.owned if d.args.external_secrets}
        # Address and token come from the environment: no explicit provider, nothing from the repository.
        assert not result.by_type("pulumi:providers:vault")


# --- production safety (protect, readiness, deletion propagation, rollout gate) -------------------


@pytest.mark.parametrize(("stack", "protected"), [("local", False), ("staging", False), ("production", True)])
def test_program_when_stack_runs_then_store_and_every_externalsecret_protected_only_in_production(
    stack: str, protected: bool, run_stack
) -> None:
    result = run_stack(stack)
    # Disabling Vault's auth mount would also delete roles this program does not own.
    guarded = result.by_type(STORE) + result.by_type(EXTERNAL_SECRET) + result.by_type(AUTH_BACKEND)
    assert {r.name: r.protect for r in guarded} == {r.name: protected for r in guarded}
    # The identity, admission policy and Vault role and policy are recreated in seconds and hold
    # no data: left unprotected on purpose.
    assert not any(r.protect for r in result.resources if r not in guarded)


@pytest.mark.parametrize(
    ("stack", "waits", "timeout"), [("local", False, None), ("staging", True, "300"), ("production", True, "600")]
)
def test_program_when_stack_runs_then_readiness_awaited_only_on_clusters(
    stack: str, waits: bool, timeout: str | None, run_stack
) -> None:
    result = run_stack(stack)
    [store] = result.by_type(STORE)
    store_annotations = store.inputs["metadata"].get("annotations", {})
    assert store_annotations.get("pulumi.com/waitFor") == ("condition=Ready" if waits else None)
    for r in result.by_type(EXTERNAL_SECRET):
        annotations = r.inputs["metadata"]["annotations"]
        wait_for = annotations.get("pulumi.com/waitFor")
        if waits:
            # Ready alone is also true for SecretDeleted / SecretMissing: the reason must be SecretSynced.
            assert json.loads(wait_for) == [
                "condition=Ready",
                'jsonpath={.status.conditions[?(@.type=="Ready")].reason}=SecretSynced',
            ]
        else:
            assert wait_for is None
        assert annotations.get("pulumi.com/timeoutSeconds") == timeout


@pytest.mark.parametrize(("stack", "orphans"), [("local", False), ("staging", True), ("production", True)])
def test_program_when_externalsecret_deleted_then_secret_orphaned_outside_local(stack: str, orphans: bool, run_stack) -> None:
    for r in run_stack(stack).by_type(EXTERNAL_SECRET):
        assert (r.inputs["metadata"]["annotations"].get("pulumi.com/deletionPropagationPolicy") == "orphan") is orphans


def test_program_when_production_matches_deployed_staging_then_gate_passes(run_stack) -> None:
    result = run_stack("production")
    [gate] = result.by_type("ameide:secrets:RolloutGate")
    [reference] = result.by_type("pulumi:pulumi:StackReference")
    assert reference.name == "organization/ameide-secrets/staging"
    assert reference.parent == gate.urn


def test_program_when_production_gets_ahead_of_staging_then_gate_names_workload(run_stack) -> None:
    staging_owned = run_stack("staging").outputs["ownedWorkloads"]
    with pytest.raises(
        pulumi.RunError,
        match=r"workload 'keycloak' \(workloads/identity/keycloak.py\) is not owned by the deployed stack organization/ameide-secrets/staging",
    ):
        run_stack("production", upstream_owned=[w for w in staging_owned if w != "keycloak"])


def test_program_when_upstream_never_deployed_then_gate_says_deploy_it_first() -> None:
    with pytest.raises(pulumi.RunError, match=r"exports no ownedWorkloads: deploy it first"):
        harness.run_main(REPOSITORY / "__main__.py", "production", config_for("production"))


@pytest.mark.parametrize("stack", ["local", "staging"])
def test_program_when_gate_off_then_no_stack_reference(stack: str, run_stack) -> None:
    assert not run_stack(stack).by_type("pulumi:pulumi:StackReference")
