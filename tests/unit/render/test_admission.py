"""rendering/admission.py: the admission policies, their text per stack, and their CEL run by a real engine.

The engine is `common-expression-language` (the Rust `cel` crate): like Kubernetes' cel-go it
rejects `has()` on anything but a field selection and errors on a field read through an absent
parent, so a missing guard fails here as it would in the API server. `admit()` plays the API
server: it matches the request against the policy's rules, binds `object`, `oldObject`,
`request`, `namespaceObject` and `variables`, and reports each failed validation's message.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import cel
import pytest

from ameide_secrets import vocabulary
from ameide_secrets.declare import inventory
from ameide_secrets.declare.inventory import Grant
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.offline.crd_schema import CrdSchemas
from ameide_secrets.render import admission, manifests, preview_access
from ameide_secrets.rules import targets

from helpers import STACKS, discover, external_secret_manifest, registry, settings_for
from kube_cel import evaluate

NAMESPACES = ["ameide", "monitoring"]
GRANTS = [
    Grant("ameide", "plausible/", "workloads/analytics/plausible.py", fetch_metadata=False, merge_into=("plausible-env",)),
    Grant("ameide", "shared/db/", "workloads/data/postgres.py", fetch_metadata=False),
    Grant("ameide", "shared/db/", "workloads/data/flyway.py", fetch_metadata=False),
    Grant("monitoring", "prometheus/", "workloads/observability/prometheus.py", fetch_metadata=False),
]
PLATFORM = "system:serviceaccount:ameide-ci:ameide-secrets"
TEAM = "oidc:alice@ameide.io"
RESOURCES = {"ExternalSecret": "externalsecrets", "SecretStore": "secretstores", "ClusterSecretStore": "clustersecretstores"}


# --- the API server, played by a CEL engine ----------------------------------------------------


def namespace_object(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}


def matches(policy: dict[str, Any], resource: str, operation: str, subresource: str = "") -> bool:
    """Whether the policy's matchConstraints select a request (group external-secrets.io, version v1)."""
    return any(
        "external-secrets.io" in rule["apiGroups"]
        and "v1" in rule["apiVersions"]
        and operation in rule["operations"]
        and (f"{resource}/{subresource}" if subresource else resource) in rule["resources"]
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]
    )


def admit(
    policy: dict[str, Any],
    obj: dict[str, Any],
    *,
    old: dict[str, Any] | None = None,
    user: str = TEAM,
    operation: str | None = None,
) -> list[str]:
    """The messages the API server would deny this request with under `policy` ([] = admitted)."""
    operation = operation or ("CREATE" if old is None else "UPDATE")
    resource = RESOURCES[obj["kind"]]
    if not matches(policy, resource, operation):
        return []
    namespace = obj["metadata"].get("namespace")
    activation: dict[str, Any] = {
        "object": obj,
        "oldObject": old,
        "namespaceObject": namespace_object(namespace) if namespace else None,
        "request": {
            "operation": operation,
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "kind": {"group": "external-secrets.io", "version": "v1", "kind": obj["kind"]},
            "resource": {"group": "external-secrets.io", "version": "v1", "resource": resource},
            "name": obj["metadata"]["name"],
        },
        "params": None,
    }
    variables: dict[str, Any] = {}
    for variable in policy["spec"]["variables"]:
        variables[variable["name"]] = evaluate(variable["expression"], {**activation, "variables": variables})
    denied = []
    for validation in policy["spec"]["validations"]:
        context = {**activation, "variables": variables}
        if evaluate(validation["expression"], context) is True:
            continue
        message = evaluate(validation["messageExpression"], context)
        # The API server falls back to `message` for an empty or multi-line messageExpression result.
        assert isinstance(message, str)
        assert message.strip()
        assert "\n" not in message
        assert "\n" not in validation["message"]
        denied.append(message)
    return denied


def expressions(policy: dict[str, Any]) -> Iterator[str]:
    spec = policy["spec"]
    yield from (c["expression"] for c in spec.get("matchConditions", []))
    yield from (v["expression"] for v in spec.get("variables", []))
    for validation in spec["validations"]:
        yield validation["expression"]
        yield validation["messageExpression"]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def settings() -> StackSettings:
    return settings_for("staging", platformIdentity=PLATFORM)


@pytest.fixture
def es_policy(settings: StackSettings) -> dict[str, Any]:
    return admission.external_secret_policy(settings, NAMESPACES, GRANTS)


@pytest.fixture
def store_policy(settings: StackSettings) -> dict[str, Any]:
    return admission.secret_store_policy(settings, NAMESPACES)


def es(*keys: str, namespace: str = "ameide", **spec: Any) -> dict[str, Any]:
    """An ExternalSecret in `namespace` reading `keys` (default: plausible's two) through the platform store."""
    manifest = external_secret_manifest(namespace)
    if keys:
        manifest["spec"]["data"] = [{"secretKey": f"K{i}", "remoteRef": {"key": key}} for i, key in enumerate(keys)]
    manifest["spec"].update(spec)
    return manifest


def secret_store(kind: str = "SecretStore", namespace: str | None = "ameide") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "team-vault"}
    if namespace is not None:
        metadata["namespace"] = namespace
    vault = {
        "server": "https://vault:8200",
        "path": "secret",
        "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}},
    }
    return {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": metadata, "spec": {"provider": {"vault": vault}}}


# --- what the policies say ---------------------------------------------------------------------


def test_policies_when_rendered_then_fail_closed_on_create_and_update_of_eso_objects(settings: StackSettings) -> None:
    policies = admission.policies(settings, NAMESPACES, GRANTS)
    assert [p["metadata"]["name"] for p in policies] == [
        "ameide-vault-external-secrets",
        "ameide-vault-secret-stores",
        "ameide-vault-push-and-generators",
    ]
    for policy in policies:
        assert (policy["apiVersion"], policy["kind"]) == ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy")
        assert policy["spec"]["failurePolicy"] == "Fail"
        assert all(r["operations"] == ["CREATE", "UPDATE"] for r in policy["spec"]["matchConstraints"]["resourceRules"])
    assert [
        (r["apiGroups"], r["apiVersions"], r["resources"])
        for p in policies
        for r in p["spec"]["matchConstraints"]["resourceRules"]
    ] == [
        (["external-secrets.io"], ["v1"], ["externalsecrets"]),
        (["external-secrets.io"], ["v1"], ["secretstores", "clustersecretstores"]),
        (["external-secrets.io"], ["*"], ["pushsecrets", "clusterpushsecrets"]),
        (["generators.external-secrets.io"], ["*"], ["vaultdynamicsecrets", "webhooks", "clustergenerators"]),
    ]


def test_binding_when_rendered_then_denies_with_its_policy_everywhere(es_policy: dict[str, Any]) -> None:
    assert admission.binding(es_policy) == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "ameide-vault-external-secrets", "labels": vocabulary.PLATFORM_LABELS},
        # No matchResources: the generated literals in the policy decide which namespaces are judged.
        "spec": {"policyName": "ameide-vault-external-secrets", "validationActions": ["Deny"]},
    }


def test_external_secret_policy_when_rendered_then_namespace_prefix_map_is_a_literal(es_policy: dict[str, Any]) -> None:
    [declared] = [v["expression"] for v in es_policy["spec"]["variables"] if v["name"] == "declared"]
    assert json.loads(declared) == {
        "ameide": {
            "plausible/": "workloads/analytics/plausible.py",
            "shared/db/": "workloads/data/flyway.py, workloads/data/postgres.py",
        },
        "monitoring": {"prometheus/": "workloads/observability/prometheus.py"},
    }


def test_declared_prefixes_when_namespace_has_no_grant_then_it_owns_none() -> None:
    assert admission.declared_prefixes(["ameide", "web"], GRANTS[:1]) == {
        "ameide": {"plausible/": "workloads/analytics/plausible.py"},
        "web": {},
    }


@pytest.mark.parametrize("stack", STACKS)
def test_policies_when_stack_rendered_then_literals_are_that_stacks_declarations(stack: str) -> None:
    settings = settings_for(stack)
    owned = inventory.owned(discover(), settings.environment)
    es_policy, store_policy, _ = admission.policies(settings, inventory.namespaces(owned), inventory.grants(owned, registry()))
    [declared] = [v["expression"] for v in es_policy["spec"]["variables"] if v["name"] == "declared"]
    assert json.loads(declared) == {
        namespace: {d.args.prefix: d.module for d in owned if d.args.namespace == namespace and d.args.external_secrets}
        for namespace in inventory.namespaces(owned)
    }
    [store_rule] = store_policy["spec"]["validations"]
    assert (
        store_rule["expression"] == f"!variables.judged || request.userInfo.username == {json.dumps(settings.platform_identity)}"
    )
    assert f"ClusterSecretStore {settings.store_name}" in es_policy["spec"]["validations"][1]["expression"]


@pytest.mark.parametrize("stack", STACKS)
def test_cel_when_stack_policies_compiled_then_engine_parses_every_expression(stack: str) -> None:
    settings = settings_for(stack)
    owned = inventory.owned(discover(), settings.environment)
    policies = [
        *admission.policies(settings, inventory.namespaces(owned), inventory.grants(owned, registry())),
        *preview_access.objects(settings)[2:3],
    ]
    compiled = [cel.compile(expression) for policy in policies for expression in expressions(policy)]  # raises on a parse error
    # Every variable, validation and message of every policy, the preview identity's where the stack has one.
    assert len(compiled) == sum(len(list(expressions(policy))) for policy in policies) >= 20


def test_cel_when_expression_invalid_then_engine_refuses_it() -> None:
    """The engine is as strict as cel-go where Kubernetes is: `has()` needs a field selection."""
    with pytest.raises(ValueError, match="Failed to parse"):
        cel.compile("has(object)")


@pytest.mark.parametrize("stack", STACKS)
def test_cel_when_stack_renders_its_externalsecrets_then_policy_admits_every_one(stack: str) -> None:
    settings = settings_for(stack)
    owned = inventory.owned(discover(), settings.environment)
    es_policy, *_ = admission.policies(settings, inventory.namespaces(owned), inventory.grants(owned, registry()))
    rendered = [manifests.external_secret(d.args, spec, settings) for d in owned for spec in d.args.external_secrets]
    assert rendered
    assert {m["metadata"]["name"]: admit(es_policy, m, user=settings.platform_identity) for m in rendered} == {
        m["metadata"]["name"]: [] for m in rendered
    }


def test_admission_fixtures_when_validated_then_pass_eso_crd_schemas(crds: CrdSchemas) -> None:
    """The CEL below runs on objects the API server would accept, with every field it reads."""
    objects = [
        es(),
        es(dataFrom=[{"extract": {"key": "plausible/all"}}, {"find": {"path": "plausible", "name": {"regexp": ".*"}}}]),
        es(
            data=[
                {
                    "secretKey": "A",
                    "remoteRef": {"key": "x"},
                    "sourceRef": {"storeRef": {"kind": "SecretStore", "name": "team-vault"}},
                }
            ]
        ),
        es(
            dataFrom=[
                {
                    "sourceRef": {
                        "generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "Password", "name": "p"}
                    }
                }
            ]
        ),
        secret_store(),
        secret_store("ClusterSecretStore", namespace=None),
    ]
    assert [crds.errors(obj) for obj in objects] == [[] for _ in objects]


# --- ExternalSecrets ---------------------------------------------------------------------------


def test_cel_when_externalsecret_reads_declared_prefixes_then_admitted(es_policy: dict[str, Any]) -> None:
    assert (
        admit(es_policy, es("plausible/secret-key-base", "shared/db/url", dataFrom=[{"extract": {"key": "plausible/all"}}])) == []
    )


def test_cel_when_key_outside_namespace_prefixes_then_refused_naming_key_and_declarations(es_policy: dict[str, Any]) -> None:
    [message] = admit(es_policy, es("plausible/secret-key-base", "growth/api-key"))
    assert message.startswith(
        "ExternalSecret plausible-secrets in namespace ameide: Vault key 'growth/api-key' is outside the key prefixes "
        "of the workloads declared for namespace ameide: "
    )
    assert "plausible/ (workloads/analytics/plausible.py)" in message
    assert "shared/db/ (workloads/data/flyway.py, workloads/data/postgres.py)" in message
    assert message.endswith(
        "(use a key under one of them, or declare the workload that owns it in workloads/<team>/<workload>.py)"
    )


def test_cel_when_key_of_other_namespaces_workload_then_refused(es_policy: dict[str, Any]) -> None:
    """prometheus/ is declared, but for monitoring: ameide may not read it."""
    [message] = admit(es_policy, es("prometheus/remote-write"))
    assert "Vault key 'prometheus/remote-write' is outside" in message


@pytest.mark.parametrize(
    "key", ["plausible/../growth/x", "plausible/..", "plausibleX/a", "/plausible/a", "secret/plausible/a", "growth/plausible/a"]
)
def test_cel_when_key_escapes_or_only_resembles_prefix_then_refused(es_policy: dict[str, Any], key: str) -> None:
    [message] = admit(es_policy, es(key))
    assert f"Vault key '{key}'" in message


def test_cel_when_extract_key_outside_prefixes_then_refused(es_policy: dict[str, Any]) -> None:
    [message] = admit(es_policy, es(dataFrom=[{"extract": {"key": "growth/all"}}]))
    assert "Vault key 'growth/all' is outside" in message


@pytest.mark.parametrize(
    ("ref", "described"),
    [
        ({"kind": "SecretStore", "name": "team-vault"}, "SecretStore team-vault"),
        ({"kind": "ClusterSecretStore", "name": "legacy-vault"}, "ClusterSecretStore legacy-vault"),
        ({"name": "ameide-vault"}, "SecretStore ameide-vault"),  # ESO reads an unset kind as SecretStore
        ({"kind": "ClusterSecretStore"}, "ClusterSecretStore (no name)"),
    ],
)
def test_cel_when_foreign_store_then_refused_naming_it(es_policy: dict[str, Any], ref: dict[str, str], described: str) -> None:
    assert admit(es_policy, es(secretStoreRef=ref)) == [
        f"ExternalSecret plausible-secrets in namespace ameide: secretStoreRef is {described}; ExternalSecrets here read only "
        "through ClusterSecretStore ameide-vault (declare them in workloads/<team>/<workload>.py)"
    ]


def test_cel_when_no_store_ref_then_refused(es_policy: dict[str, Any]) -> None:
    manifest = es()
    del manifest["spec"]["secretStoreRef"]
    [message] = admit(es_policy, manifest)
    assert "secretStoreRef is unset" in message


def test_cel_when_no_spec_then_refused_without_evaluation_error(es_policy: dict[str, Any]) -> None:
    manifest = es()
    del manifest["spec"]
    assert len(admit(es_policy, manifest)) == 1  # the store rule; nothing else can be read


@pytest.mark.parametrize(
    "entry",
    [
        {
            "secretKey": "A",
            "remoteRef": {"key": "plausible/a"},
            "sourceRef": {"storeRef": {"kind": "SecretStore", "name": "team-vault"}},
        },
        {
            "secretKey": "A",
            "remoteRef": {"key": "plausible/a"},
            "sourceRef": {
                "generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "Password", "name": "p"}
            },
        },
    ],
)
def test_cel_when_data_entry_has_source_ref_then_refused(es_policy: dict[str, Any], entry: dict[str, Any]) -> None:
    [message] = admit(es_policy, es(data=[entry]))
    assert message.startswith(
        "ExternalSecret plausible-secrets in namespace ameide: sourceRef (another store or a generator) is refused"
    )


def test_cel_when_data_from_uses_generator_then_refused(es_policy: dict[str, Any]) -> None:
    generator = {
        "sourceRef": {
            "generatorRef": {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "VaultDynamicSecret", "name": "v"}
        }
    }
    [message] = admit(es_policy, es(dataFrom=[generator]))
    assert "sourceRef (another store or a generator) is refused" in message


def test_cel_when_data_from_finds_then_refused_even_under_prefix(es_policy: dict[str, Any]) -> None:
    [message] = admit(es_policy, es(dataFrom=[{"find": {"path": "plausible/", "name": {"regexp": ".*"}}}]))
    assert message == (
        "ExternalSecret plausible-secrets in namespace ameide: dataFrom[].find is refused: it searches Vault beyond the "
        "declared keys (list each key in data_from in workloads/<team>/<workload>.py)"
    )


def test_cel_when_update_adds_bad_key_then_refused(es_policy: dict[str, Any]) -> None:
    old = es()
    new = copy.deepcopy(old)
    new["spec"]["data"].append({"secretKey": "STOLEN", "remoteRef": {"key": "keycloak/admin"}})
    [message] = admit(es_policy, new, old=old)
    assert "Vault key 'keycloak/admin' is outside" in message


def test_cel_when_update_switches_to_foreign_store_then_refused(es_policy: dict[str, Any]) -> None:
    old = es()
    [message] = admit(es_policy, es(secretStoreRef={"kind": "SecretStore", "name": "team-vault"}), old=old)
    assert "secretStoreRef is SecretStore team-vault" in message


def test_cel_when_update_leaves_spec_unchanged_then_still_judged(es_policy: dict[str, Any]) -> None:
    """Every write of an object reading through the platform store is judged, metadata-only ones too."""
    bad = es("growth/api-key")
    relabelled = copy.deepcopy(bad)
    relabelled["metadata"]["annotations"]["helm.sh/resource-policy"] = "keep"
    assert len(admit(es_policy, relabelled, old=bad)) == 1
    good = es()
    relabelled_good = copy.deepcopy(good)
    relabelled_good["metadata"]["labels"]["team"] = "analytics"
    assert admit(es_policy, relabelled_good, old=good) == []


def test_cel_when_legacy_store_object_rewritten_unchanged_then_admitted_but_not_when_changed(es_policy: dict[str, Any]) -> None:
    """Mid-migration, `helm upgrade` re-applies the chart's remaining objects in an admitted namespace."""
    legacy = es(secretStoreRef={"kind": "ClusterSecretStore", "name": "vault-secrets"})
    reapplied = copy.deepcopy(legacy)
    reapplied["metadata"]["labels"]["helm.sh/chart"] = "vault-secrets-1.0.1"
    assert admit(es_policy, reapplied, old=legacy) == []
    changed = copy.deepcopy(legacy)
    changed["spec"]["data"][0]["remoteRef"]["key"] = "keycloak/admin"
    messages = admit(es_policy, changed, old=legacy)
    assert any("secretStoreRef is ClusterSecretStore vault-secrets" in m for m in messages)
    assert any("Vault key 'keycloak/admin' is outside" in m for m in messages)
    assert any("secretStoreRef is ClusterSecretStore vault-secrets" in m for m in admit(es_policy, legacy))


def terminating(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(old, new) of the garbage collector's write to an object deleted with orphan propagation."""
    old = copy.deepcopy(obj)
    old["metadata"] |= {"deletionTimestamp": "2026-11-28T18:51:02Z", "finalizers": ["orphan"]}
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = []
    return old, new


def test_cel_when_collector_finalizes_withdrawn_external_secret_then_admitted_unless_spec_changes(
    es_policy: dict[str, Any],
) -> None:
    """Its prefix already withdrawn by the same `pulumi up`: refusing the finalizer removal would leave it terminating."""
    old, new = terminating(es("growth/api-key"))
    assert admit(es_policy, new, old=old) == []
    new["spec"]["data"][0]["remoteRef"]["key"] = "keycloak/admin"
    assert any("Vault key 'keycloak/admin' is outside" in m for m in admit(es_policy, new, old=old))


def test_cel_when_collector_finalizes_refused_push_secret_then_admitted(settings: StackSettings) -> None:
    policy = admission.push_and_generator_policy(settings)
    old, new = terminating(push_secret("PushSecret", [{"kind": "ClusterSecretStore", "name": "ameide-vault"}]))
    assert judge(policy, new, "ameide", old=old) == []
    assert judge(policy, old, "ameide") != []


def test_cel_when_namespace_not_admitted_and_own_store_then_not_judged(es_policy: dict[str, Any]) -> None:
    assert admit(es_policy, es("growth/api-key", namespace="growth", secretStoreRef={"kind": "SecretStore", "name": "own"})) == []


@pytest.mark.parametrize(
    "spec",
    [
        {},  # the platform store as its secretStoreRef
        {
            "secretStoreRef": {"kind": "SecretStore", "name": "own"},
            "data": [
                {
                    "secretKey": "K",
                    "remoteRef": {"key": "x"},
                    "sourceRef": {"storeRef": {"kind": "ClusterSecretStore", "name": "ameide-vault"}},
                }
            ],
        },
        {
            "secretStoreRef": {"kind": "SecretStore", "name": "own"},
            "dataFrom": [
                {"extract": {"key": "x"}, "sourceRef": {"storeRef": {"kind": "ClusterSecretStore", "name": "ameide-vault"}}}
            ],
        },
    ],
)
def test_cel_when_namespace_not_admitted_names_platform_store_then_refused(
    es_policy: dict[str, Any], spec: dict[str, Any]
) -> None:
    """Created before a PR admits the namespace, it would sync unjudged the moment it is admitted."""
    [message] = admit(es_policy, es("plausible/a", namespace="growth", **spec))
    assert message == (
        "ExternalSecret plausible-secrets in namespace growth: namespace growth is not admitted to ClusterSecretStore "
        "ameide-vault: no workload declared in workloads/<team>/<workload>.py uses it (declare one there, in a namespace "
        "granted to your team)"
    )


def test_cel_when_admitted_namespace_declares_no_prefix_then_every_key_refused(settings: StackSettings) -> None:
    policy = admission.external_secret_policy(settings, [*NAMESPACES, "web"], GRANTS)
    [message] = admit(policy, es("www/x", namespace="web"))
    assert "declared for namespace web: none (use a key" in message


def test_cel_when_platform_identity_writes_bad_externalsecret_then_still_refused(es_policy: dict[str, Any]) -> None:
    """The exemption is for secret stores only: the program's own ExternalSecrets obey the declarations too."""
    assert admit(es_policy, es("growth/api-key"), user=PLATFORM)


@pytest.mark.parametrize(("operation", "subresource"), [("DELETE", ""), ("UPDATE", "status")])
def test_cel_when_delete_or_status_write_then_policy_does_not_match(
    es_policy: dict[str, Any], operation: str, subresource: str
) -> None:
    assert not matches(es_policy, "externalsecrets", operation, subresource)


# --- secret stores ------------------------------------------------------------------------------


def test_cel_when_team_creates_secret_store_in_admitted_namespace_then_refused(store_policy: dict[str, Any]) -> None:
    assert admit(store_policy, secret_store()) == [
        f"{TEAM} may not create or change SecretStore team-vault in namespace ameide: secret stores are managed only by "
        f"{PLATFORM} (ameide-secrets); read Vault through ClusterSecretStore ameide-vault with ExternalSecrets declared in "
        "workloads/<team>/<workload>.py"
    ]


def test_cel_when_team_changes_cluster_secret_store_then_refused(store_policy: dict[str, Any]) -> None:
    store = secret_store("ClusterSecretStore", namespace=None)
    changed = copy.deepcopy(store)
    changed["spec"]["conditions"] = [{"namespaceRegexes": [".*"]}]
    [message] = admit(store_policy, changed, old=store)
    assert message.startswith(f"{TEAM} may not create or change ClusterSecretStore team-vault: secret stores are managed only by")


@pytest.mark.parametrize(("kind", "namespace"), [("SecretStore", "ameide"), ("ClusterSecretStore", None)])
def test_cel_when_platform_identity_creates_or_updates_store_then_admitted(
    store_policy: dict[str, Any], kind: str, namespace: str | None
) -> None:
    store = secret_store(kind, namespace)
    assert admit(store_policy, store, user=PLATFORM) == []
    assert admit(store_policy, store, old=store, user=PLATFORM) == []


def test_cel_when_vault_secret_store_in_namespace_not_admitted_then_still_refused(store_policy: dict[str, Any]) -> None:
    assert admit(store_policy, secret_store(namespace="growth"))


def test_cel_when_non_vault_secret_store_in_namespace_not_admitted_then_not_judged(store_policy: dict[str, Any]) -> None:
    store = secret_store(namespace="growth")
    store["spec"]["provider"] = {"fake": {"data": []}}
    assert admit(store_policy, store) == []


def test_cel_when_platform_store_rendered_then_only_platform_identity_may_apply_it(
    store_policy: dict[str, Any], settings: StackSettings
) -> None:
    store = manifests.cluster_secret_store(settings, NAMESPACES)
    assert admit(store_policy, store, user=PLATFORM) == []
    assert admit(store_policy, store, user=TEAM)


@pytest.mark.parametrize(("kind", "namespace"), [("SecretStore", "ameide"), ("ClusterSecretStore", None)])
def test_cel_when_anyone_changes_only_store_metadata_then_admitted(
    store_policy: dict[str, Any], kind: str, namespace: str | None
) -> None:
    """ESO's finalizer, Helm's keep annotation and labels on an existing store are not a store change."""
    store = secret_store(kind, namespace)
    relabelled = copy.deepcopy(store)
    relabelled["metadata"]["labels"] = {"team": "growth"}
    relabelled["metadata"]["finalizers"] = ["external-secrets.io/finalizer"]
    assert admit(store_policy, relabelled, old=store) == []


# --- PushSecrets and generators -------------------------------------------------------------------


def judge(policy: dict[str, Any], obj: dict[str, Any], namespace: str | None, old: dict[str, Any] | None = None) -> list[str]:
    """Messages the API server would deny `obj` with under `policy` (matching is tested above)."""
    activation: dict[str, Any] = {
        "object": obj,
        "oldObject": old,
        "namespaceObject": namespace_object(namespace) if namespace else None,
        "request": {"operation": "CREATE" if old is None else "UPDATE", "userInfo": {"username": TEAM}},
        "params": None,
    }
    variables: dict[str, Any] = {}
    for variable in policy["spec"]["variables"]:
        variables[variable["name"]] = evaluate(variable["expression"], {**activation, "variables": variables})
    context = {**activation, "variables": variables}
    return [
        evaluate(v["messageExpression"], context)
        for v in policy["spec"]["validations"]
        if evaluate(v["expression"], context) is not True
    ]


def push_secret(kind: str, refs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {"secretStoreRefs": refs, "selector": {"secret": {"name": "local"}}}
    if kind == "ClusterPushSecret":
        spec = {"pushSecretSpec": spec}
    return {"apiVersion": "external-secrets.io/v1alpha1", "kind": kind, "metadata": {"name": "out"}, "spec": spec}


@pytest.mark.parametrize("kind", ["PushSecret", "ClusterPushSecret"])
@pytest.mark.parametrize(
    "ref",
    [
        {"kind": "ClusterSecretStore", "name": "ameide-vault"},
        {"kind": "ClusterSecretStore", "labelSelector": {"matchLabels": {"app.kubernetes.io/part-of": "ameide-secrets"}}},
    ],
)
def test_cel_when_push_secret_writes_through_platform_store_then_refused(
    settings: StackSettings, kind: str, ref: dict[str, Any]
) -> None:
    policy = admission.push_and_generator_policy(settings)
    namespace = "ameide" if kind == "PushSecret" else None
    [message] = judge(policy, push_secret(kind, [{"kind": "SecretStore", "name": "own"}, ref]), namespace)
    assert message.startswith(f"{kind} out")
    assert message.endswith(
        "pushing to ClusterSecretStore ameide-vault is refused: Vault is written by its owners, never from a cluster"
    )


def test_cel_when_push_secret_writes_to_another_store_then_admitted(settings: StackSettings) -> None:
    policy = admission.push_and_generator_policy(settings)
    assert judge(policy, push_secret("PushSecret", [{"kind": "SecretStore", "name": "ameide-vault"}]), "growth") == []


@pytest.mark.parametrize(
    ("kind", "spec", "refused"),
    [
        ("VaultDynamicSecret", {"path": "database/creds/x", "provider": {"server": "https://vault:8200"}}, True),
        ("Webhook", {"url": "https://example.invalid"}, True),
        ("ClusterGenerator", {"kind": "VaultDynamicSecret", "generator": {}}, True),
        ("ClusterGenerator", {"kind": "Password", "generator": {}}, False),
        ("Password", {"length": 32}, False),
    ],
)
def test_cel_when_generator_created_then_vault_and_webhook_refused(
    settings: StackSettings, kind: str, spec: dict[str, Any], refused: bool
) -> None:
    policy = admission.push_and_generator_policy(settings)
    obj = {"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": kind, "metadata": {"name": "g"}, "spec": spec}
    messages = judge(policy, obj, None if kind.startswith("Cluster") else "growth")
    assert bool(messages) is refused


@pytest.mark.parametrize(
    ("interval", "refused"), [("1ns", True), ("0.000001ms", True), ("59s", True), ("0", False), ("1m", False), ("1h", False)]
)
def test_cel_when_refresh_interval_below_the_floor_then_refused_and_read_once_allowed(
    es_policy: dict[str, Any], interval: str, refused: bool
) -> None:
    """The same floor as the declaration check and the guardrail (rules/refresh.py), judged by the API server."""
    obj = es()
    obj["spec"]["refreshInterval"] = interval
    messages = admit(es_policy, obj)
    assert bool(messages) is refused
    if refused:
        assert messages == [
            f"ExternalSecret plausible-secrets in namespace ameide: refreshInterval {interval} is below the platform's floor "
            "1m: ESO would re-read Vault that often for every tenant (use 1m or more, or 0 to read once)"
        ]


@pytest.mark.parametrize(
    ("target", "policy", "refused"),
    [
        ("plausible-env", "Merge", False),  # granted to a workload of the namespace
        ("plausible-env", "CreateOrMerge", False),
        ("keycloak-db", "Merge", True),  # another team's existing Secret
        ("keycloak-db", "CreateOrMerge", True),
        ("keycloak-db", "Owner", False),
        (None, "Merge", True),  # the target defaults to the ExternalSecret's own name
    ],
)
def test_cel_when_merging_into_a_secret_then_only_granted_targets_admitted(
    es_policy: dict[str, Any], target: str | None, policy: str, refused: bool
) -> None:
    """The same grant as the declaration check (rules/tenancy.py `merge_problem`), judged by the API server."""
    obj = es()
    obj["spec"]["target"] = {"creationPolicy": policy, "deletionPolicy": "Retain", **({"name": target} if target else {})}
    messages = admit(es_policy, obj)
    assert bool(messages) is refused
    if refused:
        assert messages == [
            f"ExternalSecret plausible-secrets in namespace ameide: creationPolicy {policy} writes into Secret "
            f"{target or 'plausible-secrets'}, which no workload of this namespace is granted to merge into (use Owner, or "
            "ask the platform team for a merge_into grant in platform/tenants.yaml and declare it in workloads/<team>/<workload>.py)"
        ]


@pytest.mark.parametrize(
    ("target", "policy", "refused"),
    [
        ("sh.helm.release.v1.web.v3", "Owner", True),
        ("sh.helm.release.v1.web.v3", "Orphan", True),
        ("default-token-x7k2q", "Owner", True),
        ("sh.helm.release.v1.web.v3", "None", False),  # ESO writes nothing
        ("api-token-secret", "Owner", False),
        ("web-token-abcde", "Owner", False),  # vowels: not the token controller's alphabet
    ],
)
def test_cel_when_target_named_like_cluster_machinery_then_refused_as_the_python_rule_does(
    es_policy: dict[str, Any], target: str, policy: str, refused: bool
) -> None:
    obj = es()
    obj["spec"]["target"] = {"name": target, "creationPolicy": policy, "deletionPolicy": "Retain"}
    messages = admit(es_policy, obj)
    assert bool(messages) is refused
    assert (targets.reserved_name_problem(target, policy) is not None) is refused
    if refused:
        assert messages == [
            f"ExternalSecret plausible-secrets in namespace ameide: target Secret {target} is named like a Helm release record "
            "or a service-account token: ESO would overwrite (with deletion policy Delete, delete) a Secret the cluster's "
            "machinery owns (choose another target name)"
        ]
