"""Which store an ExternalSecret reads through — the one rule, for every layer: the guardrails judge a
rendered manifest with it, `precheck` a live object, and the admission policy's CEL is generated here,
so all three read a reference the same way (an unset `kind` is ESO's namespaced SecretStore)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ameide_secrets.vocabulary import DEFAULT_STORE_REF_KIND, STORE_KIND, store_refs


def ref_kind(ref: Mapping[str, Any]) -> str:
    return str(ref.get("kind", DEFAULT_STORE_REF_KIND))


def is_platform(ref: Mapping[str, Any], store_name: str) -> bool:
    """Whether a store reference names the platform's ClusterSecretStore."""
    return ref_kind(ref) == STORE_KIND and ref.get("name") == store_name


def ref_problem(ref: Mapping[str, Any], store_name: str) -> str | None:
    """Why a store reference is not the platform's store, or None."""
    if is_platform(ref, store_name):
        return None
    return f"references {ref_kind(ref)} {ref.get('name')!r}, not the platform's {STORE_KIND} {store_name!r}"


def source_ref_problems(spec: Mapping[str, Any], store_name: str) -> Iterator[tuple[str, str]]:
    """(field path, problem) of every entry whose `sourceRef` reads elsewhere than the platform store."""
    for field in ("data", "dataFrom"):
        for i, entry in enumerate(spec.get(field) or []):
            source = entry.get("sourceRef")
            if source is None:
                continue
            path = f"spec.{field}[{i}].sourceRef"
            if "generatorRef" in source:
                yield path, "uses a generator, not Vault"
            elif problem := ref_problem(source.get("storeRef") or {}, store_name):
                yield path, problem


def names_platform(spec: Mapping[str, Any], store_name: str) -> bool:
    """Whether any reference of an ExternalSecret's spec (its store, or an entry's sourceRef) names the platform's store."""
    return any(is_platform(ref, store_name) for _, ref in store_refs(spec))


def cel_store() -> str:
    """CEL: `<kind> <name>` of `object.spec.secretStoreRef` ('unset' without one), the kind defaulted as ESO does."""
    return (
        "!has(object.spec) || !has(object.spec.secretStoreRef) ? 'unset' : "
        f"(has(object.spec.secretStoreRef.kind) ? object.spec.secretStoreRef.kind : {json.dumps(DEFAULT_STORE_REF_KIND)}) + ' ' + "
        "(has(object.spec.secretStoreRef.name) ? object.spec.secretStoreRef.name : '(no name)')"
    )


def cel_names_platform(store_name: str, store_variable: str = "variables.store") -> str:
    """CEL of `names_platform`: the main reference (already in `store_variable`, from `cel_store`) or an
    entry's `sourceRef.storeRef` names the platform's store."""
    store, kind, name = json.dumps(f"{STORE_KIND} {store_name}"), json.dumps(STORE_KIND), json.dumps(store_name)
    return (
        f"{store_variable} == {store} || "
        "(has(object.spec) && ["
        "has(object.spec.data) ? object.spec.data : [], has(object.spec.dataFrom) ? object.spec.dataFrom : []"
        "].exists(entries, entries.exists(e, has(e.sourceRef) && has(e.sourceRef.storeRef) && "
        f"has(e.sourceRef.storeRef.kind) && e.sourceRef.storeRef.kind == {kind} && "
        f"has(e.sourceRef.storeRef.name) && e.sourceRef.storeRef.name == {name})))"
    )
