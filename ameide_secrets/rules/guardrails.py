"""Guardrail rules over rendered Kubernetes manifests (plain dicts).

What must hold whatever a team module says, judged from the manifests alone. The same rules run
in the tests, in the offline preview (`ameide-secrets preview`) and in `pulumi preview --policy-pack
policy` (the CrossGuard pack, `crossguard.py`). Every rule is one pass over the manifests (no pairwise comparisons).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ameide_secrets import vocabulary
from ameide_secrets.findings import Finding
from ameide_secrets.rules import eso, refresh, stores, targets, tenancy
from ameide_secrets.vocabulary import (
    ANNOTATION_KEY_PREFIX,
    ESO_API_VERSION,
    LABEL_MANAGED_BY,
    LABEL_TEAM,
    LABEL_WORKLOAD,
    PLATFORM_LABELS,
    STORE_KIND,
)

Manifest = Mapping[str, Any]

# The project defaults of `storeName` and `esoNamespace` in Pulumi.yaml (a test keeps them equal).
DEFAULT_STORE_NAME = "ameide-vault"
DEFAULT_ESO_NAMESPACE = "external-secrets"


def violation(rule: str, manifest: Manifest, message: str) -> Finding:
    """One broken rule: which rule, which object (`Kind/namespace/name`), what to do."""
    return Finding(message, object=resource_id(manifest), rule=rule)


@dataclass(frozen=True)
class Platform:
    """What the rules compare against: the platform's ClusterSecretStore and ESO's namespace."""

    store_name: str = DEFAULT_STORE_NAME
    eso_namespace: str = DEFAULT_ESO_NAMESPACE
    refresh_interval_floor: str | None = None
    """The stack's `refreshIntervalFloor`; None: not judged (a caller that does not know the stack)."""
    registry: tenancy.Registry | None = None
    """The access registry the grants are judged against; None: not judged (a caller without a project)."""


@dataclass(frozen=True)
class Rule:
    """A guardrail: a stable id, what must hold, and the check itself."""

    id: str
    description: str
    check: Callable[[Sequence[Manifest], Platform], Iterator[Finding]]
    stack: bool = False
    """True when the rule needs every object at once (a StackValidationPolicy in the pack)."""


# Filled as the rules below are defined, then frozen into RULES at the end of the module.
_DEFINED: list[Rule] = []


def check(
    manifests: Sequence[Manifest],
    *,
    store_name: str = DEFAULT_STORE_NAME,
    eso_namespace: str = DEFAULT_ESO_NAMESPACE,
    refresh_interval_floor: str | None = None,
    registry: tenancy.Registry | None = None,
) -> list[Finding]:
    """Every violation of every rule in `manifests`, rule by rule, in manifest order."""
    platform = Platform(store_name, eso_namespace, refresh_interval_floor, registry)
    return [violation for rule in RULES for violation in rule.check(manifests, platform)]


def resource_id(manifest: Manifest) -> str:
    """`Kind/namespace/name`, or `Kind/name` for an object without a namespace."""
    metadata = manifest.get("metadata") or {}
    parts = [manifest.get("kind"), metadata.get("namespace"), metadata.get("name")]
    return "/".join(str(part) for part in parts if part)


def _is_eso(manifest: Manifest) -> bool:
    return vocabulary.is_eso(manifest)


def _is_external_secret(manifest: Manifest) -> bool:
    return _is_eso(manifest) and manifest.get("kind") == "ExternalSecret"


def _is_platform_store(manifest: Manifest, platform: Platform) -> bool:
    return _is_eso(manifest) and manifest.get("kind") == STORE_KIND and _name(manifest) == platform.store_name


def _name(manifest: Manifest) -> str:
    return str((manifest.get("metadata") or {}).get("name", ""))


def _spec(manifest: Manifest) -> Mapping[str, Any]:
    return manifest.get("spec") or {}


ObjectCheck = Callable[[Manifest, Platform], Iterable[str]]


def _object_rule(
    rule_id: str, description: str, applies: Callable[[Manifest, Platform], bool]
) -> Callable[[ObjectCheck], ObjectCheck]:
    """Register a rule judged one object at a time; the function yields one message per problem."""

    def register(messages: ObjectCheck) -> ObjectCheck:
        def run(manifests: Sequence[Manifest], platform: Platform) -> Iterator[Finding]:
            for manifest in manifests:
                if applies(manifest, platform):
                    for message in messages(manifest, platform):
                        yield violation(rule_id, manifest, message)

        _DEFINED.append(Rule(rule_id, description, run))
        return messages

    return register


@_object_rule("eso-api-version", f"ESO objects use {ESO_API_VERSION}.", lambda m, _: _is_eso(m))
def _api_version(manifest: Manifest, _: Platform) -> Iterator[str]:
    if manifest.get("apiVersion") != ESO_API_VERSION:
        yield (
            f"apiVersion {manifest.get('apiVersion')!r} is not served by ESO 2.9; use {ESO_API_VERSION} "
            "(a CustomResource's type token contains it: add pulumi.Alias(type_=...) to update in place)"
        )


@_object_rule(
    "eso-kind-allowed", "The program creates no ESO kinds but ExternalSecret and the platform store.", lambda m, _: _is_eso(m)
)
def _eso_kind(manifest: Manifest, _: Platform) -> Iterator[str]:
    if manifest.get("kind") not in vocabulary.ESO_KINDS:
        yield (
            f"{manifest.get('kind')} is not allowed: it would create or push secrets outside the reviewed "
            "workload modules (declare namespaced ExternalSecrets in workloads/<team>/<workload>.py)"
        )


@_object_rule(
    "external-secret-store-ref",
    "Every ExternalSecret reads through the platform ClusterSecretStore.",
    lambda m, _: _is_external_secret(m),
)
def _store_ref(manifest: Manifest, platform: Platform) -> Iterator[str]:
    spec = _spec(manifest)
    if problem := stores.ref_problem(spec.get("secretStoreRef") or {}, platform.store_name):
        yield f"spec.secretStoreRef {problem} (set kind: {STORE_KIND}, name: {platform.store_name})"
    # A per-entry sourceRef overrides secretStoreRef: another store, or a generator instead of Vault.
    for path, problem in stores.source_ref_problems(spec, platform.store_name):
        yield f"{path} {problem} (remove sourceRef: every value comes from the platform store)"


@_object_rule(
    "external-secret-namespace",
    "ExternalSecrets are namespaced, and never in a system namespace or ESO's.",
    lambda m, _: _is_external_secret(m),
)
def _namespace(manifest: Manifest, platform: Platform) -> Iterator[str]:
    namespace = (manifest.get("metadata") or {}).get("namespace")
    if not namespace:
        yield "has no metadata.namespace (set WORKLOAD.namespace to the workload's own namespace)"
    elif problem := tenancy.system_namespace_problem(namespace, [platform.eso_namespace]):
        yield f"namespace {problem}"


@_object_rule(
    "store-platform-only",
    "No SecretStore or ClusterSecretStore but the platform's.",
    lambda m, _: _is_eso(m) and m.get("kind") in vocabulary.STORE_KINDS,
)
def _platform_only(manifest: Manifest, platform: Platform) -> Iterator[str]:
    if not _is_platform_store(manifest, platform):
        yield (
            f"only the platform's {STORE_KIND} {platform.store_name!r} may exist "
            "(remove it; reference the platform store from your ExternalSecrets)"
        )


@_object_rule(
    "store-conditions",
    "The platform store admits only listed namespaces (spec.conditions).",
    _is_platform_store,
)
def _conditions(manifest: Manifest, _: Platform) -> Iterator[str]:
    conditions = _spec(manifest).get("conditions") or []
    if not conditions:
        yield "has no spec.conditions, so every namespace may use it (list the workloads' namespaces in conditions[].namespaces)"
    for i, condition in enumerate(conditions):
        selector = condition.get("namespaceSelector")
        if selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            yield f"spec.conditions[{i}].namespaceSelector is empty and matches every namespace (list namespaces instead)"


def _matches_any(patterns: Sequence[str], namespace: str) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, namespace):  # ESO's namespaceRegexes are unanchored
                return True
        except re.error:
            continue
    return False


def _store_admits_namespaces(manifests: Sequence[Manifest], platform: Platform) -> Iterator[Finding]:
    store = next((m for m in manifests if _is_platform_store(m, platform)), None)
    if store is None:
        return  # nothing to judge against: the store is not part of these manifests
    conditions = _spec(store).get("conditions") or []
    # Judged without Namespace objects: by name and regex only.
    names = {name for condition in conditions for name in condition.get("namespaces") or []}
    patterns = [pattern for condition in conditions for pattern in condition.get("namespaceRegexes") or []]
    admitted: dict[str, bool] = {}
    for manifest in manifests:
        namespace = (manifest.get("metadata") or {}).get("namespace")
        if not _is_external_secret(manifest) or not namespace:
            continue
        if namespace not in admitted:
            admitted[namespace] = not conditions or namespace in names or _matches_any(patterns, namespace)
        if not admitted[namespace]:
            yield violation(
                "store-admits-namespace",
                manifest,
                f"namespace {namespace!r} is not admitted by the spec.conditions of {STORE_KIND} {platform.store_name!r}, "
                "so ESO will not sync it (add the namespace to conditions[].namespaces; a namespaceSelector "
                "cannot be checked from manifests)",
            )


_DEFINED.append(
    Rule(
        "store-admits-namespace",
        "Every namespace holding an ExternalSecret is admitted by the platform store's conditions.",
        _store_admits_namespaces,
        stack=True,
    )
)


@_object_rule(
    "external-secret-key-prefix",
    f"Every Vault key an ExternalSecret reads is under its {ANNOTATION_KEY_PREFIX} annotation.",
    lambda m, _: _is_external_secret(m),
)
def _key_prefix(manifest: Manifest, _: Platform) -> Iterator[str]:
    prefix = ((manifest.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_KEY_PREFIX)
    if not prefix or not str(prefix).endswith("/") or str(prefix).startswith("/"):
        found = "missing" if prefix is None else f"{prefix!r}, not a Vault path ending in '/'"
        yield (
            f"annotation {ANNOTATION_KEY_PREFIX} is {found} "
            "(declare the ExternalSecret in workloads/<team>/<workload>.py: WorkloadSecrets stamps it)"
        )
        return
    for path, key in vocabulary.vault_keys(_spec(manifest)):
        if key is None:
            yield f"{path} is unset, so find searches every workload's keys (set it to a path under {prefix})"
        elif (problem := tenancy.vault_path_problem(key)) or (problem := tenancy.key_prefix_problem(key, str(prefix))):
            yield f"{path} {problem}"


@_object_rule(
    "external-secret-labels",
    "Every ExternalSecret carries its workload, team and managed-by labels.",
    lambda m, _: _is_external_secret(m),
)
def _labels(manifest: Manifest, _: Platform) -> Iterator[str]:
    labels = (manifest.get("metadata") or {}).get("labels") or {}
    missing = [key for key in (LABEL_WORKLOAD, LABEL_TEAM) if not labels.get(key)]
    if labels.get(LABEL_MANAGED_BY) != PLATFORM_LABELS[LABEL_MANAGED_BY]:
        missing.append(f"{LABEL_MANAGED_BY}={PLATFORM_LABELS[LABEL_MANAGED_BY]}")
    if missing:
        yield (
            f"lacks label{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            "(declare the ExternalSecret in workloads/<team>/<workload>.py: WorkloadSecrets sets them)"
        )


@_object_rule(
    "external-secret-data-required",
    "Every ExternalSecret has data or dataFrom (ESO's webhook rejects it otherwise).",
    lambda m, _: _is_external_secret(m),
)
def _data_required(manifest: Manifest, _: Platform) -> Iterator[str]:
    spec = _spec(manifest)
    if problem := eso.data_problem(bool(spec.get("data")), bool(spec.get("dataFrom"))):
        yield problem


@_object_rule(
    "external-secret-deletion-policy",
    "deletionPolicy Delete only with creationPolicy Owner; Merge never with None.",
    lambda m, _: _is_external_secret(m),
)
def _deletion_policy(manifest: Manifest, _: Platform) -> Iterator[str]:
    target = _spec(manifest).get("target") or {}
    creation = target.get("creationPolicy", vocabulary.DEFAULT_CREATION_POLICY)
    deletion = target.get("deletionPolicy", vocabulary.DEFAULT_DELETION_POLICY)
    if problem := eso.deletion_policy_problem(str(creation), str(deletion)):
        yield f"spec.target: {problem}"


@_object_rule(
    "external-secret-target-reserved",
    "No ExternalSecret writes a Secret named like a Helm release record or a service-account token.",
    lambda m, _: _is_external_secret(m),
)
def _target_reserved(manifest: Manifest, _: Platform) -> Iterator[str]:
    target = _spec(manifest).get("target") or {}
    creation = target.get("creationPolicy", vocabulary.DEFAULT_CREATION_POLICY)
    if problem := targets.reserved_name_problem(str(target.get("name") or _name(manifest)), str(creation)):
        yield f"spec.target.name: {problem}"


@_object_rule(
    "external-secret-granted",
    "Every ExternalSecret's workload, namespace, key prefix and Merge target are granted to its team in "
    f"{tenancy.REGISTRY_PATH}.",
    lambda m, p: _is_external_secret(m) and p.registry is not None,
)
def _granted(manifest: Manifest, platform: Platform) -> Iterator[str]:
    metadata = manifest.get("metadata") or {}
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    team, workload, prefix = labels.get(LABEL_TEAM), labels.get(LABEL_WORKLOAD), annotations.get(ANNOTATION_KEY_PREFIX)
    registry = platform.registry
    if registry is None or not team or not workload or not str(prefix).endswith("/"):
        return  # external-secret-labels and external-secret-key-prefix report what is missing or malformed
    team, workload, namespace = str(team), str(workload), str(metadata.get("namespace") or "")
    if problem := registry.namespace_problem(team, namespace):
        yield f"metadata.namespace: {problem}"
    if problem := registry.workload_problem(team, workload) or registry.prefix_problem(team, workload, str(prefix)):
        yield f"metadata.annotations[{ANNOTATION_KEY_PREFIX}]: {problem}"
    target = _spec(manifest).get("target") or {}
    where = f"{namespace}/{target.get('name') or _name(manifest)}"
    if target.get("creationPolicy") in targets.MERGING and (problem := registry.merge_problem(team, where)):
        yield f"spec.target.creationPolicy: {problem}"


@_object_rule(
    "external-secret-duplicate-secret-key",
    "No two spec.data entries write the same secretKey.",
    lambda m, _: _is_external_secret(m),
)
def _duplicate_secret_key(manifest: Manifest, _: Platform) -> Iterator[str]:
    seen: set[str] = set()
    reported: set[str] = set()
    for entry in _spec(manifest).get("data") or []:
        key = str(entry.get("secretKey", ""))
        if key in seen and key not in reported:
            reported.add(key)
            yield f"secretKey {key!r} appears more than once in spec.data, which ESO rejects (keep one entry)"
        seen.add(key)


@_object_rule(
    "external-secret-refresh-floor",
    "No ExternalSecret makes ESO re-read Vault more often than the platform's refreshIntervalFloor.",
    lambda m, p: _is_external_secret(m) and p.refresh_interval_floor is not None,
)
def _refresh_floor(manifest: Manifest, platform: Platform) -> Iterator[str]:
    interval = _spec(manifest).get("refreshInterval")
    if interval is not None and platform.refresh_interval_floor is not None:
        try:
            problem = refresh.below_floor_problem(str(interval), platform.refresh_interval_floor)
        except ValueError:
            problem = f"refresh interval {interval!r} is not a Go duration (e.g. 1h, 15m)"
        if problem:
            yield f"spec.refreshInterval: {problem}"


@_object_rule(
    "secret-literal-data",
    "The program creates no Secret with literal values: they live in Vault only.",
    lambda m, _: m.get("apiVersion") == "v1" and m.get("kind") == "Secret",
)
def _literal_secret(manifest: Manifest, _: Platform) -> Iterator[str]:
    fields = [field for field in ("data", "stringData") if manifest.get(field)]
    if fields:
        yield (
            f"carries literal values in {' and '.join(fields)} (store them in Vault and declare an "
            "ExternalSecret in workloads/<team>/<workload>.py)"
        )


RULES: tuple[Rule, ...] = tuple(_DEFINED)
"""Every rule, in the order `check` reports them; the CrossGuard pack makes one policy of each."""
