"""Pure: every way a Kubernetes workload reads a Secret, from its pod template alone (names only).

A pod consumes a Secret through `env[].valueFrom.secretKeyRef` (one key), `envFrom[].secretRef` (every
key, as `prefix`+key), a `secret` volume (every key, or its `items`), a `projected` volume's `secret`
sources (likewise), and `imagePullSecrets` (the pod's, not a container's: the kubelet reads the whole
Secret). Init and ephemeral containers count like the others; a volume counts for each container that
mounts it, and for the pod itself when none does (the kubelet still needs it to start the pod). Each
reference keeps its `optional`: an optional one that is missing does not stop the container.

Workloads are read from their pod templates: Deployments, StatefulSets, DaemonSets, ReplicaSets,
Jobs, CronJobs (their job template's) and Pods, each skipped when a workload of those kinds controls
it (a Deployment's ReplicaSet, a CronJob's Job, a ReplicaSet's Pod), so each template is read once.
Literal env values, Secret data and annotations are never looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Via = Literal["env", "envFrom", "volume", "projected", "imagePullSecrets"]

_MODEL = ConfigDict(extra="forbid", frozen=True)

# kind -> where its pod spec sits in the object.
POD_SPEC_PATH: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
KINDS = tuple(POD_SPEC_PATH)
"""The kinds whose pod templates are read."""
RESOURCES: Mapping[str, tuple[str, ...]] = {
    "": ("pods",),
    "apps": ("deployments", "statefulsets", "daemonsets", "replicasets"),
    "batch": ("jobs", "cronjobs"),
}
"""API group -> the resources of KINDS: what `lineage` lists, and what the preview identity may list for it."""

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


class Consumer(BaseModel):
    """Who reads: one container of one workload (no container: the pod itself, for imagePullSecrets and unmounted volumes)."""

    model_config = _MODEL

    kind: str
    namespace: str
    name: str
    container: str | None
    via: Via
    field: str
    """Where in the object, e.g. `spec.template.spec.containers[0].env[2].valueFrom.secretKeyRef`."""


class Consumption(BaseModel):
    """One reference from a consumer to a Secret: one key, or the whole Secret (`key` None)."""

    model_config = _MODEL

    consumer: Consumer
    secret: str
    key: str | None
    """The Secret key read; None: every key (envFrom, a whole volume, imagePullSecrets)."""
    optional: bool = False
    env: str | None = None
    """The environment variable it becomes (env), or the prefix every key gets (envFrom, may be empty)."""
    path: str | None = None
    """The file it becomes, relative to the mount (a volume's `items`)."""


def _dig(manifest: Mapping[str, Any], path: Iterable[str]) -> Any:
    found: Any = manifest
    for part in path:
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


def _list(value: Any) -> list[Any]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def controlled(manifest: Mapping[str, Any]) -> bool:
    """Whether a workload of the kinds read controls this object (its template is read there)."""
    owners = _list(_dig(manifest, ("metadata", "ownerReferences")))
    return any(owner.get("controller") and owner.get("kind") in POD_SPEC_PATH for owner in owners)


def consumptions(kind: str, manifest: Mapping[str, Any]) -> list[Consumption]:
    """Every Secret reference of the workload `manifest` (of `kind`); none when it is controlled by another."""
    if kind not in POD_SPEC_PATH or controlled(manifest):
        return []
    path = POD_SPEC_PATH[kind]
    spec = _dig(manifest, path)
    if not isinstance(spec, Mapping):
        return []
    metadata = manifest.get("metadata") or {}
    where = {"kind": kind, "namespace": str(metadata.get("namespace", "")), "name": str(metadata.get("name", ""))}
    return list(_pod(spec, ".".join(path), where))


def _pod(spec: Mapping[str, Any], at: str, where: dict[str, str]) -> Iterator[Consumption]:
    def consumer(container: str | None, via: Via, field: str) -> Consumer:
        return Consumer(**where, container=container, via=via, field=field)

    mounted: dict[str, list[str]] = {}
    for group in _CONTAINER_LISTS:
        for i, container in enumerate(_list(spec.get(group))):
            name = str(container.get("name", f"{group}[{i}]"))
            c_at = f"{at}.{group}[{i}]"
            for j, env in enumerate(_list(container.get("env"))):
                ref = _dig(env, ("valueFrom", "secretKeyRef"))
                if isinstance(ref, Mapping) and ref.get("name"):
                    yield Consumption(
                        consumer=consumer(name, "env", f"{c_at}.env[{j}].valueFrom.secretKeyRef"),
                        secret=str(ref["name"]),
                        key=str(ref.get("key", "")),
                        optional=bool(ref.get("optional", False)),
                        env=str(env.get("name", "")),
                    )
            for j, source in enumerate(_list(container.get("envFrom"))):
                ref = source.get("secretRef")
                if isinstance(ref, Mapping) and ref.get("name"):
                    yield Consumption(
                        consumer=consumer(name, "envFrom", f"{c_at}.envFrom[{j}].secretRef"),
                        secret=str(ref["name"]),
                        key=None,
                        optional=bool(ref.get("optional", False)),
                        env=str(source.get("prefix", "")),
                    )
            for mount in _list(container.get("volumeMounts")):
                mounted.setdefault(str(mount.get("name", "")), []).append(name)
    for i, volume in enumerate(_list(spec.get("volumes"))):
        readers: list[str | None] = [*mounted.get(str(volume.get("name", "")), [])] or [None]
        v_at = f"{at}.volumes[{i}]"
        sources: list[tuple[Via, str, Mapping[str, Any], str]] = []
        if isinstance(secret := volume.get("secret"), Mapping) and secret.get("secretName"):
            sources.append(("volume", f"{v_at}.secret", secret, str(secret["secretName"])))
        for j, source in enumerate(_list(_dig(volume, ("projected", "sources")))):
            if isinstance(secret := source.get("secret"), Mapping) and secret.get("name"):
                sources.append(("projected", f"{v_at}.projected.sources[{j}].secret", secret, str(secret["name"])))
        for via, field, source, secret_name in sources:
            items = _list(source.get("items"))
            for reader in dict.fromkeys(readers):
                base = {
                    "consumer": consumer(reader, via, field),
                    "secret": secret_name,
                    "optional": bool(source.get("optional", False)),
                }
                if not items:
                    yield Consumption(**base, key=None)
                for item in items:
                    yield Consumption(**base, key=str(item.get("key", "")), path=str(item.get("path", "")) or None)
    for i, ref in enumerate(_list(spec.get("imagePullSecrets"))):
        if ref.get("name"):
            yield Consumption(
                consumer=consumer(None, "imagePullSecrets", f"{at}.imagePullSecrets[{i}]"), secret=str(ref["name"]), key=None
            )
