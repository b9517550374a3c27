"""Pure functions from declarations and settings to Kubernetes manifests (plain dicts).

The components register exactly these dicts, so what tests, the offline preview and the CRD
schema checks see is what Pulumi sends to the API server. ESO fields that have a default are
rendered explicitly: the API server would add them otherwise, and every preview would show a diff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ameide_secrets.declare.contract import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.vocabulary import (
    ANNOTATION_DELETION_PROPAGATION,
    ANNOTATION_KEY_PREFIX,
    ANNOTATION_PATCH_FORCE,
    ANNOTATION_ROTATE_WITHIN,
    ANNOTATION_TIMEOUT,
    ANNOTATION_WAIT_FOR,
    ESO_API_VERSION,
    EXTERNAL_SECRET,
    EXTERNAL_SECRET_READY,
    LABEL_MANAGED_BY,
    LABEL_TEAM,
    LABEL_WORKLOAD,
    PLATFORM_LABELS,
    STORE_KIND,
    STORE_READY,
)

# Creation policies under which ESO writes (and so templates) the target Secret itself.
# With Merge / CreateOrMerge / None the Secret belongs to someone else: we do not restamp its
# type or metadata.
_TEMPLATED = {"Owner", "Orphan"}


@dataclass(frozen=True)
class StoreRef:
    """How an ExternalSecret names the platform's store."""

    name: str
    kind: str = STORE_KIND


def workload_labels(args: WorkloadSecretsArgs) -> dict[str, str]:
    """Labels on every object of a workload: who owns it and what manages it."""
    return {LABEL_WORKLOAD: args.workload, LABEL_TEAM: args.team, LABEL_MANAGED_BY: "pulumi"}


def _remote_ref(ref: RemoteRef, property_: str | None) -> dict[str, Any]:
    rendered: dict[str, Any] = {"key": ref.key}
    if property_ is not None:
        rendered["property"] = property_
    if ref.version is not None:
        rendered["version"] = ref.version
    rendered["decodingStrategy"] = ref.decoding_strategy
    rendered["conversionStrategy"] = ref.conversion_strategy
    rendered["metadataPolicy"] = ref.metadata_policy
    return rendered


def readiness_annotations(settings: StackSettings, wait_for: str) -> dict[str, str]:
    """Make `pulumi up` fail unless the object becomes ready in time (clusters only)."""
    if not settings.wait_for_ready:
        return {}
    return {ANNOTATION_WAIT_FOR: wait_for, ANNOTATION_TIMEOUT: str(settings.readiness_timeout_seconds)}


def external_secret(args: WorkloadSecretsArgs, spec: ExternalSecretSpec, settings: StackSettings) -> dict[str, Any]:
    """The ExternalSecret for one `ExternalSecretSpec` of a workload, in a stack with `settings`."""
    store = StoreRef(settings.store_name)
    labels = {**spec.labels, **workload_labels(args)}
    target: dict[str, Any] = {
        "name": spec.target_name,
        "creationPolicy": spec.creation_policy,
        "deletionPolicy": spec.deletion_policy,
    }
    if spec.creation_policy in _TEMPLATED:
        # No template data: ESO writes the fetched keys as they are; the template only sets the
        # Secret's type and ownership labels.
        target["template"] = {
            "type": spec.type,
            "engineVersion": "v2",
            "mergePolicy": "Replace",
            "metadata": {"labels": labels},
        }
        if spec.annotations:
            target["template"]["metadata"]["annotations"] = dict(spec.annotations)
    body: dict[str, Any] = {
        "refreshInterval": spec.refresh_interval or settings.refresh_interval,
        "secretStoreRef": {"kind": store.kind, "name": store.name},
        "target": target,
    }
    if spec.data:
        body["data"] = [
            {"secretKey": key, "remoteRef": _remote_ref(ref, spec.property_of(key, settings.string_ref_property))}
            for key, ref in spec.data.items()
        ]
    if spec.data_from:
        # An extract copies every field of the secret: no property, whatever the form.
        body["dataFrom"] = [{"extract": _remote_ref(ref, ref.property)} for ref in spec.data_from]
    return {
        "apiVersion": ESO_API_VERSION,
        "kind": EXTERNAL_SECRET,
        "metadata": {
            "name": spec.name,
            "namespace": args.namespace,
            "labels": labels,
            "annotations": {**spec.annotations, **_platform_annotations(args, spec, settings)},
        },
        "spec": body,
    }


def _platform_annotations(args: WorkloadSecretsArgs, spec: ExternalSecretSpec, settings: StackSettings) -> dict[str, str]:
    # The key prefix rides on the object so reviewers and policies can check keys from the
    # manifest alone.
    annotations = {ANNOTATION_KEY_PREFIX: args.prefix}
    if spec.rotate_within is not None:
        # The bound `vault-check --max-age` holds this object's keys to, visible in the preview and on the cluster.
        annotations[ANNOTATION_ROTATE_WITHIN] = spec.rotate_within
    if args.adopts(spec):
        # Server-side apply takes the fields over from the legacy chart's field manager.
        annotations[ANNOTATION_PATCH_FORCE] = "true"
    if settings.orphan_secrets_on_delete:
        # ESO's Owner reference would garbage-collect the Secret with its ExternalSecret;
        # orphaning keeps a live Secret when an ExternalSecret is removed or moved.
        annotations[ANNOTATION_DELETION_PROPAGATION] = "orphan"
    annotations.update(readiness_annotations(settings, EXTERNAL_SECRET_READY))
    return annotations


def cluster_secret_store(settings: StackSettings, namespaces: Sequence[str]) -> dict[str, Any]:
    """The one Vault-backed ClusterSecretStore, usable only from `namespaces`."""
    vault: dict[str, Any] = {
        "server": settings.vault_server,
        "path": settings.vault_kv_mount,
        "version": settings.vault_kv_version,
        "auth": {
            "kubernetes": {
                "mountPath": settings.vault_auth_mount,
                "role": settings.vault_role,
                "serviceAccountRef": reviewer_account_ref(settings),
            }
        },
    }
    if settings.vault_ca_kind is not None:
        vault["caProvider"] = {
            "type": settings.vault_ca_kind,
            "name": settings.vault_ca_name,
            "key": settings.vault_ca_key,
            "namespace": settings.vault_ca_namespace or settings.eso_namespace,
        }
    metadata: dict[str, Any] = {"name": settings.store_name, "labels": dict(PLATFORM_LABELS)}
    if annotations := readiness_annotations(settings, STORE_READY):
        metadata["annotations"] = annotations
    return {
        "apiVersion": ESO_API_VERSION,
        "kind": STORE_KIND,
        "metadata": metadata,
        "spec": {
            "provider": {"vault": vault},
            # Without conditions a ClusterSecretStore serves every namespace. Exact names only:
            # ESO's namespaceRegexes are unanchored, so "ameide" would also admit "not-ameide-x".
            "conditions": [{"namespaces": sorted(set(namespaces))}],
        },
    }


def reviewer_account_ref(settings: StackSettings) -> dict[str, Any]:
    """The service account whose token ESO presents to Vault's kubernetes auth."""
    ref: dict[str, Any] = {"name": settings.reviewer_service_account}
    if settings.auth_mode == "shared":
        # Without a namespace ESO uses the account of that name in each ExternalSecret's own
        # namespace ("referent auth"): one Vault identity per namespace.
        ref["namespace"] = settings.eso_namespace
    if settings.vault_audience is not None:
        ref["audiences"] = [settings.vault_audience]
        if settings.vault_kubernetes_ca_cert is not None:
            # Vault outside the cluster reviews the login with this very token (reviewer_bindings):
            # the API server refuses to authenticate a token minted only for Vault's audience.
            ref["audiences"].append(settings.kubernetes_audience)
    return ref


def reviewer_namespaces(settings: StackSettings, namespaces: Sequence[str]) -> list[str]:
    """Where the identity ESO presents to Vault lives: ESO's namespace, or every admitted one (referent)."""
    return sorted(set(namespaces)) if settings.auth_mode == "referent" else [settings.eso_namespace]


def reviewer_service_accounts(settings: StackSettings, namespaces: Sequence[str]) -> list[dict[str, Any]]:
    """The identity ESO presents to Vault, in each namespace it lives in."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": settings.reviewer_service_account, "namespace": namespace, "labels": dict(PLATFORM_LABELS)},
        }
        for namespace in reviewer_namespaces(settings, namespaces)
    ]


def reviewer_bindings(settings: StackSettings, namespaces: Sequence[str]) -> list[dict[str, Any]]:
    """`system:auth-delegator` for the identity ESO presents, only where Vault needs it.

    Vault reviews a login with a TokenReview. Running in a pod (no `vaultKubernetesCaCert`), it
    makes that review with its own service account, which its own chart binds. Outside the cluster
    it has no identity there and reviews with the presented token itself: only then must ESO's
    identity be allowed to create TokenReviews.
    """
    if settings.vault_kubernetes_ca_cert is None:
        return []
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{settings.store_name}-token-reviewer", "labels": dict(PLATFORM_LABELS)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
            "subjects": [
                {"kind": "ServiceAccount", "name": settings.reviewer_service_account, "namespace": namespace}
                for namespace in reviewer_namespaces(settings, namespaces)
            ],
        }
    ]
