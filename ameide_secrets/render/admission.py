"""Pure functions: the admission policies that hold a cluster to the declarations at run time.

Review-time rules (`policies.py`) judge what this program renders; these ValidatingAdmissionPolicies
(CEL, evaluated by the API server) judge every request, whoever sends it. What a namespace may
read is a literal generated from the declarations into the policy, so no object a team can edit
decides it. Every expression is valid Kubernetes CEL; `tests/test_admission.py` evaluates them
with a CEL engine against admission requests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ameide_secrets.declare.inventory import Grant
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.rules import refresh, stores, targets, tenancy
from ameide_secrets.vocabulary import (
    ADMISSION_API_VERSION,
    DEFAULT_CREATION_POLICY,
    ESO_GROUP,
    ESO_VERSION,
    GENERATORS_GROUP,
    PLATFORM_LABELS,
    STORE_KIND,
)

DECLARED_IN = "workloads/<team>/<workload>.py"
# A create, or an update that touches `spec`. Metadata-only updates (labels, finalizers such as
# ESO's, Helm's keep annotation) read nothing new and change no store, so they are not judged.
_SPEC_CHANGES = "oldObject == null || !has(oldObject.spec) || !has(object.spec) || object.spec != oldObject.spec"
# An object already being deleted, written without a spec change: the garbage collector removing its
# `orphan` finalizer. Refusing that write leaves the object terminating forever (e.g. an ExternalSecret
# deleted by the same `pulumi up` that withdraws its prefix).
_FINALIZING = f"has(object.metadata.deletionTimestamp) && !({_SPEC_CHANGES})"


def _cel(value: Any) -> str:
    """A CEL literal for a JSON-shaped value: JSON strings, lists and objects are CEL literals."""
    return json.dumps(value, indent=2, sort_keys=True)


def declared_prefixes(namespaces: Sequence[str], grants: Sequence[Grant]) -> dict[str, dict[str, str]]:
    """Admitted namespace -> Vault key prefix its workloads own -> the modules that declare it."""
    modules: dict[str, dict[str, list[str]]] = {namespace: {} for namespace in namespaces}
    for grant in grants:
        modules.setdefault(grant.namespace, {}).setdefault(grant.prefix, []).append(grant.module)
    return {
        namespace: {prefix: ", ".join(sorted(set(paths))) for prefix, paths in prefixes.items()}
        for namespace, prefixes in modules.items()
    }


def merge_targets(namespaces: Sequence[str], grants: Sequence[Grant]) -> dict[str, list[str]]:
    """Admitted namespace -> the existing Secrets its workloads are granted to write into with a merging policy."""
    targets_of: dict[str, set[str]] = {namespace: set() for namespace in namespaces}
    for grant in grants:
        targets_of.setdefault(grant.namespace, set()).update(grant.merge_into)
    return {namespace: sorted(names) for namespace, names in targets_of.items()}


def _policy(
    name: str,
    resources: list[str],
    variables: list[tuple[str, str]],
    validations: list[dict[str, str]],
    rules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A fail-closed policy on CREATE and UPDATE of `resources` in ESO's group and version, or of `rules`."""
    rules = rules or [
        {"apiGroups": [ESO_GROUP], "apiVersions": [ESO_VERSION], "operations": ["CREATE", "UPDATE"], "resources": resources}
    ]
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(PLATFORM_LABELS)},
        "spec": {
            # An error or an unreachable policy refuses the request: a guardrail that fails open is none.
            "failurePolicy": "Fail",
            "matchConstraints": {
                # Equivalent: a request through another served version is converted and judged too.
                "matchPolicy": "Equivalent",
                # Status writes (ESO's) go to the status subresource, which these rules do not match.
                "resourceRules": rules,
            },
            "variables": [{"name": n, "expression": e} for n, e in variables],
            "validations": [{**v, "reason": "Forbidden"} for v in validations],
        },
    }


def external_secret_policy(settings: StackSettings, namespaces: Sequence[str], grants: Sequence[Grant]) -> dict[str, Any]:
    """ExternalSecrets in an admitted namespace: platform store only, keys under that namespace's declared prefixes only."""
    store = f"{STORE_KIND} {settings.store_name}"
    where = '"ExternalSecret " + object.metadata.name + " in namespace " + namespaceObject.metadata.name + ": "'
    variables = [
        ("declared", _cel(declared_prefixes(namespaces, grants))),
        ("admitted", "namespaceObject.metadata.name in variables.declared"),
        ("allowed", "variables.admitted ? variables.declared[namespaceObject.metadata.name] : {}"),
        # ESO reads an unset kind as SecretStore (rules/stores.py, as every layer reads it).
        ("store", stores.cel_store()),
        (
            "keys",
            "!has(object.spec) ? [] : "
            "(has(object.spec.data) ? object.spec.data.map(d, d.remoteRef.key) : []) + "
            "(has(object.spec.dataFrom) ? object.spec.dataFrom.filter(e, has(e.extract)).map(e, e.extract.key) : [])",
        ),
        # The platform store named anywhere: the main storeRef or an entry's sourceRef.storeRef.
        ("usesPlatform", stores.cel_names_platform(settings.store_name)),
        (
            # Every CREATE and UPDATE of an object that reads through the platform store, metadata-only
            # included, so no unchanged-spec update slips an old object by. An object on another store
            # (the legacy chart's, mid-migration) is judged when created or when its spec changes:
            # Helm re-applying it unchanged reads nothing new. Nor is the
            # garbage collector removing the finalizer of one being deleted.
            "judged",
            f"variables.admitted && !({_FINALIZING}) && (variables.usesPlatform || {_SPEC_CHANGES})",
        ),
        ("mergeable", _cel(merge_targets(namespaces, grants))),
        (
            "target",
            "has(object.spec) && has(object.spec.target) && has(object.spec.target.name) ? object.spec.target.name : object.metadata.name",
        ),
        (
            "creation",
            "has(object.spec) && has(object.spec.target) && has(object.spec.target.creationPolicy) ? "
            f"object.spec.target.creationPolicy : {_cel(DEFAULT_CREATION_POLICY)}",
        ),
        (
            "refusedKeys",
            # Non-canonical paths (tenancy.py) first: Vault would normalise them under another prefix.
            f"variables.keys.filter(k, k.matches('{tenancy.cel_refused_key(settings.vault_kv_mount)}') || "
            "!variables.allowed.exists(p, k.startsWith(p)))",
        ),
    ]
    validations = [
        {
            # A namespace the declarations do not admit may not even name the store: once a later PR
            # admits it, ESO would sync an object that no admission ever judged.
            "expression": "variables.admitted || !variables.usesPlatform",
            "message": f"only namespaces of declared workloads may read through {store}",
            "messageExpression": (
                f'{where} + "namespace " + namespaceObject.metadata.name + " is not admitted to {store}: no workload '
                f'declared in {DECLARED_IN} uses it (declare one there, in a namespace granted to your team)"'
            ),
        },
        {
            "expression": f"!variables.judged || variables.store == {_cel(store)}",
            "message": f"ExternalSecrets in this namespace read only through {store}",
            "messageExpression": (
                f'{where} + "secretStoreRef is " + variables.store + "; ExternalSecrets here read only through {store} '
                f'(declare them in {DECLARED_IN})"'
            ),
        },
        {
            "expression": "!variables.judged || size(variables.refusedKeys) == 0",
            "message": f"an ExternalSecret reads a Vault key outside the prefixes of this namespace's workloads (declared in {DECLARED_IN})",
            "messageExpression": (
                f'{where} + "Vault key \'" + variables.refusedKeys[0] + "\' is outside the key prefixes of the workloads '
                'declared for namespace " + namespaceObject.metadata.name + ": " + '
                '(size(variables.allowed) == 0 ? "none" : variables.allowed.map(p, p + " (" + variables.allowed[p] + ")").join(", ")) + '
                f'" (use a key under one of them, or declare the workload that owns it in {DECLARED_IN})"'
            ),
        },
        {
            "expression": (
                "!variables.judged || !has(object.spec) || "
                "((!has(object.spec.data) || object.spec.data.all(d, !has(d.sourceRef))) && "
                "(!has(object.spec.dataFrom) || object.spec.dataFrom.all(e, !has(e.sourceRef))))"
            ),
            "message": f"sourceRef (another store or a generator) is refused: every value comes from {store}",
            "messageExpression": (
                f'{where} + "sourceRef (another store or a generator) is refused: every value comes from {store} '
                f'(remove sourceRef; declare keys in {DECLARED_IN})"'
            ),
        },
        {
            "expression": f"!variables.judged || !({refresh.cel_below_floor(settings.refresh_interval_floor)})",
            "message": f"refreshInterval below {settings.refresh_interval_floor} is refused: ESO would re-read Vault that often for every tenant",
            "messageExpression": (
                f'{where} + "refreshInterval " + object.spec.refreshInterval + " is below the platform\'s floor '
                f"{settings.refresh_interval_floor}: ESO would re-read Vault that often for every tenant (use "
                f'{settings.refresh_interval_floor} or more, or 0 to read once)"'
            ),
        },
        {
            "expression": (
                f"!variables.judged || variables.creation == {_cel(targets.WRITES_NOTHING)} || "
                f"!variables.target.matches({_cel(targets.cel_reserved_name())})"
            ),
            "message": "the target Secret is named like a Helm release record or a service-account token",
            "messageExpression": (
                f'{where} + "target Secret " + variables.target + " is named like a Helm release record or a service-account '
                "token: ESO would overwrite (with deletion policy Delete, delete) a Secret the cluster's machinery owns "
                '(choose another target name)"'
            ),
        },
        {
            "expression": (
                f"!variables.judged || !(variables.creation in {_cel(sorted(targets.MERGING))}) || "
                "(variables.admitted && variables.target in variables.mergeable[namespaceObject.metadata.name])"
            ),
            "message": "a merging creationPolicy writes only into a Secret granted in platform/tenants.yaml (merge_into)",
            "messageExpression": (
                f'{where} + "creationPolicy " + variables.creation + " writes into Secret " + variables.target + ", which no '
                f"workload of this namespace is granted to merge into (use Owner, or ask the platform team for a merge_into "
                f'grant in platform/tenants.yaml and declare it in {DECLARED_IN})"'
            ),
        },
        {
            "expression": (
                "!variables.judged || !has(object.spec) || !has(object.spec.dataFrom) || object.spec.dataFrom.all(e, !has(e.find))"
            ),
            "message": "dataFrom[].find is refused: it searches Vault beyond the declared keys",
            "messageExpression": (
                f'{where} + "dataFrom[].find is refused: it searches Vault beyond the declared keys '
                f'(list each key in data_from in {DECLARED_IN})"'
            ),
        },
    ]
    return _policy(f"{settings.store_name}-external-secrets", ["externalsecrets"], variables, validations)


def secret_store_policy(settings: StackSettings, namespaces: Sequence[str]) -> dict[str, Any]:
    """Only the platform identity creates or changes a ClusterSecretStore, or a SecretStore in an admitted namespace."""
    identity = _cel(settings.platform_identity)
    variables = [
        # No namespaceObject: a cluster-scoped ClusterSecretStore.
        ("admitted", f"namespaceObject == null || namespaceObject.metadata.name in {_cel(sorted(set(namespaces)))}"),
        # A store that talks to Vault is judged in every namespace, admitted or not.
        ("vault", "has(object.spec) && has(object.spec.provider) && has(object.spec.provider.vault)"),
        ("judged", f"(variables.admitted || variables.vault) && ({_SPEC_CHANGES})"),
    ]
    validations = [
        {
            "expression": f"!variables.judged || request.userInfo.username == {identity}",
            "message": f"only {settings.platform_identity} (ameide-secrets) may create or change secret stores here",
            "messageExpression": (
                'request.userInfo.username + " may not create or change " + object.kind + " " + object.metadata.name + '
                '(namespaceObject == null ? "" : " in namespace " + namespaceObject.metadata.name) + '
                f'": secret stores are managed only by " + {identity} + " (ameide-secrets); read Vault through '
                f'{STORE_KIND} {settings.store_name} with ExternalSecrets declared in {DECLARED_IN}"'
            ),
        },
    ]
    return _policy(f"{settings.store_name}-secret-stores", ["secretstores", "clustersecretstores"], variables, validations)


def binding(policy: dict[str, Any]) -> dict[str, Any]:
    """Enforce `policy` everywhere it matches: the policy itself decides which namespaces it judges."""
    name = policy["metadata"]["name"]
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": dict(PLATFORM_LABELS)},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }


# Generators that reach Vault, or the network, with credentials of their own: outside every declared key.
REFUSED_GENERATORS = ["VaultDynamicSecret", "Webhook"]


def push_and_generator_policy(settings: StackSettings) -> dict[str, Any]:
    """No PushSecret writes through the platform store, and no Vault or Webhook generator, in any namespace."""
    store = f"{STORE_KIND} {settings.store_name}"
    write = ["CREATE", "UPDATE"]
    rules = [
        {"apiGroups": [ESO_GROUP], "apiVersions": ["*"], "operations": write, "resources": ["pushsecrets", "clusterpushsecrets"]},
        {
            "apiGroups": [GENERATORS_GROUP],
            "apiVersions": ["*"],
            "operations": write,
            "resources": ["vaultdynamicsecrets", "webhooks", "clustergenerators"],
        },
    ]
    where = 'object.kind + " " + object.metadata.name + (namespaceObject == null ? "" : " in namespace " + namespaceObject.metadata.name)'
    variables = [
        (
            "refs",
            "!has(object.spec) ? [] : object.kind == 'ClusterPushSecret' ? "
            "(has(object.spec.pushSecretSpec) && has(object.spec.pushSecretSpec.secretStoreRefs) ? object.spec.pushSecretSpec.secretStoreRefs : []) : "
            "(has(object.spec.secretStoreRefs) ? object.spec.secretStoreRefs : [])",
        ),
        (
            # By name, or by a label selector over ClusterSecretStores, which can select the platform's.
            "pushesToPlatform",
            f"variables.refs.exists(r, has(r.kind) && r.kind == {_cel(STORE_KIND)} && "
            f"((has(r.name) && r.name == {_cel(settings.store_name)}) || has(r.labelSelector)))",
        ),
        ("finalizing", _FINALIZING),
        (
            "generator",
            f"object.kind in {_cel(REFUSED_GENERATORS)} || (object.kind == 'ClusterGenerator' && has(object.spec) && "
            f"has(object.spec.kind) && object.spec.kind in {_cel(REFUSED_GENERATORS)})",
        ),
    ]
    validations = [
        {
            "expression": "variables.finalizing || !variables.pushesToPlatform",
            "message": f"pushing to {store} is refused: Vault is written by its owners, never from a cluster",
            "messageExpression": f'{where} + ": pushing to {store} is refused: Vault is written by its owners, never from a cluster"',
        },
        {
            "expression": "variables.finalizing || !variables.generator",
            "message": f"{' and '.join(REFUSED_GENERATORS)} generators are refused: they read beyond the declared keys",
            "messageExpression": (
                f'{where} + ": {" and ".join(REFUSED_GENERATORS)} generators are refused: they read Vault or the network '
                f'beyond the keys declared in {DECLARED_IN}"'
            ),
        },
    ]
    return _policy(f"{settings.store_name}-push-and-generators", [], variables, validations, rules)


def policies(settings: StackSettings, namespaces: Sequence[str], grants: Sequence[Grant]) -> list[dict[str, Any]]:
    """Every admission policy of the platform store; each is enforced by its `binding()`."""
    return [
        external_secret_policy(settings, namespaces, grants),
        secret_store_policy(settings, namespaces),
        push_and_generator_policy(settings),
    ]
