"""The names this program shares with ESO, Kubernetes and Pulumi, and ESO's defaults: each spelled once.

Every layer (declarations, renderers, rules, admission CEL, the legacy importer, the checks around a
deploy) takes these from here, so an API group or a default can never be spelled two ways. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import yaml

# --- ESO ------------------------------------------------------------------------------------------

ESO_GROUP = "external-secrets.io"
ESO_VERSION = "v1"
ESO_API_VERSION = f"{ESO_GROUP}/{ESO_VERSION}"
"""The only apiVersion this program emits (ESO >= 0.17 no longer serves v1beta1)."""
GENERATORS_GROUP = f"generators.{ESO_GROUP}"

EXTERNAL_SECRET = "ExternalSecret"
SECRET_STORE = "SecretStore"
CLUSTER_SECRET_STORE = "ClusterSecretStore"
STORE_KIND = CLUSTER_SECRET_STORE
"""The kind of the platform's one store."""
STORE_KINDS = frozenset({SECRET_STORE, CLUSTER_SECRET_STORE})
ESO_KINDS = frozenset({EXTERNAL_SECRET, *STORE_KINDS})
"""The kinds of ESO's group this program may create."""

# ESO's enums, spelled as ESO spells them.
CreationPolicy = Literal["Owner", "Orphan", "Merge", "None", "CreateOrMerge"]
DeletionPolicy = Literal["Delete", "Merge", "Retain"]
DecodingStrategy = Literal["Auto", "Base64", "Base64URL", "None"]
ConversionStrategy = Literal["Default", "Unicode"]
MetadataPolicy = Literal["None", "Fetch"]

# ESO's defaults: what a manifest that leaves a field unset gets.
DEFAULT_CREATION_POLICY: CreationPolicy = "Owner"
DEFAULT_DELETION_POLICY: DeletionPolicy = "Retain"
DEFAULT_DECODING_STRATEGY: DecodingStrategy = "None"
DEFAULT_CONVERSION_STRATEGY: ConversionStrategy = "Default"
DEFAULT_METADATA_POLICY: MetadataPolicy = "None"
DEFAULT_REFRESH_INTERVAL = "1h"
DEFAULT_SECRET_TYPE = "Opaque"
DEFAULT_STORE_REF_KIND = SECRET_STORE
"""ESO reads a `secretStoreRef` without `kind` as a namespaced SecretStore."""
REF_DEFAULTS: Mapping[str, str] = {
    "decodingStrategy": DEFAULT_DECODING_STRATEGY,
    "conversionStrategy": DEFAULT_CONVERSION_STRATEGY,
    "metadataPolicy": DEFAULT_METADATA_POLICY,
}
"""A `remoteRef` / `extract`'s fields that have a default, with it."""
REF_FIELDS = frozenset({"key", "property", "version", *REF_DEFAULTS})

# ESO sets Ready=True also for SecretDeleted / SecretMissing: only SecretSynced means the Secret holds
# what Vault holds. Both must hold (a JSON array means "all of" to pulumi-kubernetes' waitFor).
READY_REASON = "SecretSynced"
EXTERNAL_SECRET_READY = json.dumps(
    ["condition=Ready", f'jsonpath={{.status.conditions[?(@.type=="Ready")].reason}}={READY_REASON}']
)
STORE_READY = "condition=Ready"


def is_eso(manifest: Mapping[str, Any]) -> bool:
    """Whether `manifest` is of ESO's group, at any version."""
    return str(manifest.get("apiVersion", "")).rpartition("/")[0] == ESO_GROUP


def vault_reads(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(field path, entry kind, its body) of every Vault read in an ExternalSecret's spec: `data[].remoteRef`,
    `dataFrom[].extract` (a key each) and `dataFrom[].find` (a search). The one walk of data and dataFrom."""
    for i, entry in enumerate(spec.get("data") or []):
        if "remoteRef" in entry:
            yield f"spec.data[{i}].remoteRef", "remoteRef", entry["remoteRef"] or {}
    for i, entry in enumerate(spec.get("dataFrom") or []):
        for kind in ("extract", "find"):
            if kind in entry:
                yield f"spec.dataFrom[{i}].{kind}", kind, entry[kind] or {}


def vault_keys(spec: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(field path, Vault key) of every read; None where a `find` has no path."""
    for path, kind, body in vault_reads(spec):
        if kind == "find":
            yield f"{path}.path", None if body.get("path") is None else str(body["path"])
        else:
            yield f"{path}.key", str(body.get("key", ""))


def store_refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(field path, store ref) of every store an ExternalSecret's spec names: `secretStoreRef`, and each
    entry's `sourceRef.storeRef` (which overrides it for that entry)."""
    yield "spec.secretStoreRef", spec.get("secretStoreRef") or {}
    for field in ("data", "dataFrom"):
        for i, entry in enumerate(spec.get(field) or []):
            source = entry.get("sourceRef")
            if source is not None and "storeRef" in source:
                yield f"spec.{field}[{i}].sourceRef.storeRef", source["storeRef"] or {}


# --- Kubernetes -----------------------------------------------------------------------------------

ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"

# --- this program's marks on what it renders ------------------------------------------------------

LABEL_WORKLOAD = "ameide.io/workload"
LABEL_TEAM = "ameide.io/team"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
ANNOTATION_KEY_PREFIX = "ameide.io/key-prefix"
ANNOTATION_ROTATE_WITHIN = "ameide.io/rotate-within"
"""The declared `rotate_within`: how old the Vault versions an ExternalSecret reads may grow (informational)."""
PLATFORM_LABELS: Mapping[str, str] = {LABEL_MANAGED_BY: "pulumi", "app.kubernetes.io/part-of": "ameide-secrets"}

# pulumi-kubernetes steering annotations (read by the provider, also stored on the object).
ANNOTATION_PATCH_FORCE = "pulumi.com/patchForce"
ANNOTATION_WAIT_FOR = "pulumi.com/waitFor"
ANNOTATION_TIMEOUT = "pulumi.com/timeoutSeconds"
ANNOTATION_DELETION_PROPAGATION = "pulumi.com/deletionPropagationPolicy"

# --- files ----------------------------------------------------------------------------------------

YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where installed (stack files, the registry and the CRDs are read on every run)."""
