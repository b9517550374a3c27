"""The product's Kubernetes client, on `lightkube` (chosen over the official client by measurement:
docs/performance.md, "Clients"). Lists objects for the checks around a deploy; of Secrets it keeps the
key names only, never a value.

The kubeconfig is the first file of KUBECONFIG, else ~/.kube/config, as kubectl reads it; the context
is the stack's `kubeContext` unless one is given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx2
from lightkube import ApiError, Client, ConfigError, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import DaemonSet, Deployment, ReplicaSet, StatefulSet
from lightkube.resources.batch_v1 import CronJob, Job
from lightkube.resources.core_v1 import Event, Pod, Secret

from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.findings import InputError
from ameide_secrets.vocabulary import ESO_GROUP, ESO_VERSION, EXTERNAL_SECRET

ExternalSecret = create_namespaced_resource(ESO_GROUP, ESO_VERSION, EXTERNAL_SECRET, "externalsecrets")

WORKLOADS: dict[str, Any] = {
    "Deployment": Deployment,
    "StatefulSet": StatefulSet,
    "DaemonSet": DaemonSet,
    "ReplicaSet": ReplicaSet,
    "Job": Job,
    "CronJob": CronJob,
    "Pod": Pod,
}
"""The kinds whose pod templates `lineage` reads (list only: docs/security.md, "What lineage may read")."""

Where = tuple[str, str]
"""(namespace, name)."""


class ClusterUnreachableError(InputError):
    """The cluster could not be asked at all: nothing was checked."""


class ForbiddenError(ClusterUnreachableError):
    """The identity may not list what was asked (HTTP 403)."""


def kubeconfig_path(environ: Mapping[str, str] = os.environ) -> Path:
    first = next((p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p), "~/.kube/config")
    return Path(first).expanduser()


class Cluster:
    """One cluster, as one kubeconfig context."""

    def __init__(self, context: str, kubeconfig: Path | None = None, transport: httpx2.BaseTransport | None = None) -> None:
        path = kubeconfig or kubeconfig_path()
        try:
            config = KubeConfig.from_file(path).get(context_name=context)
        except (ConfigError, OSError) as error:
            raise ClusterUnreachableError(f"kubeconfig {path}: context {context!r}: {error}") from None
        self.context = context
        self._client = Client(config, timeout=httpx2.Timeout(30), field_manager="ameide-secrets", transport=transport)

    def _list(self, resource: Any, what: str, namespace: str = "*") -> list[Any]:
        try:
            return list(self._client.list(resource, namespace=namespace))
        except ApiError as error:
            failure = ForbiddenError if error.status.code == 403 else ClusterUnreachableError
            where = "" if namespace == "*" else f" in {namespace}"
            raise failure(f"{self.context}: listing {what}{where}: {error.status.message}") from None
        except httpx2.HTTPError as error:
            raise ClusterUnreachableError(f"{self.context}: listing {what}: {type(error).__name__}: {error}") from None

    def external_secrets(self) -> dict[Where, dict[str, Any]]:
        """Every ExternalSecret, as plain data."""
        found = {}
        for item in self._list(ExternalSecret, "externalsecrets"):
            manifest: dict[str, Any] = item.to_dict()
            found[manifest["metadata"]["namespace"], manifest["metadata"]["name"]] = manifest
        return found

    def secret_keys(self, namespaces: list[str] | None = None) -> dict[Where, frozenset[str]]:
        """Every Secret's key names (of `namespaces` only, when given); the values are dropped here, before
        anything else sees them."""
        return {
            (secret.metadata.namespace, secret.metadata.name): frozenset(secret.data or {})
            for namespace in (namespaces if namespaces is not None else ["*"])
            for secret in self._list(Secret, "secrets", namespace)
        }

    def workloads(self, namespaces: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """(kind, manifest as plain data) of every Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and
        Pod in `namespaces`, listed one namespace at a time (so a namespaced grant is enough)."""
        found = []
        for namespace in namespaces:
            for kind, resource in WORKLOADS.items():
                found += [(kind, item.to_dict()) for item in self._list(resource, f"{kind.lower()}s", namespace)]
        return found

    def sync_errors(self) -> dict[Where, str]:
        """ExternalSecret -> the message of its newest Warning event, on one line: ESO's own error (Vault sealed,
        a login refused, a key missing), which its Ready condition reduces to "could not get secret data from
        provider". Empty where events may not be listed: the checks then go without the detail."""
        try:
            listed = list(
                self._client.list(Event, namespace="*", fields={"involvedObject.kind": EXTERNAL_SECRET, "type": "Warning"})
            )
        except (ApiError, httpx2.HTTPError):
            return {}
        newest: dict[Where, tuple[str, str]] = {}
        for event in listed:
            where = (event.involvedObject.namespace or "", event.involvedObject.name or "")
            when = str(event.lastTimestamp or event.eventTime or event.metadata.creationTimestamp or "")
            if where not in newest or when >= newest[where][0]:
                newest[where] = (when, " ".join((event.message or "").split()))
        return {where: message for where, (_, message) in newest.items() if message}

    @classmethod
    def for_stack(cls, settings: StackSettings, context: str | None = None) -> Cluster:
        """The cluster of `context`, by default the stack's `kubeContext`."""
        context = context or settings.kube_context
        if context is None:
            raise ClusterUnreachableError("the stack has no kubeContext (it renders to a directory): pass --context")
        return cls(context)
