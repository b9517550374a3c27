"""After an interrupted `pulumi up`: which pending operations the program can settle, and how. Pure.

A `pulumi up` killed between asking the API server for an object and recording its answer leaves a
*pending operation* in the stack's state (`pulumi stack export`, `deployment.pending_operations`).
Pending updates and deletes are settled by `pulumi refresh` (it reads the objects again and drops
them). A pending *create* is not: the engine keeps it, the object may exist on the cluster while the
state does not know it, and the next `pulumi up` creates it again and fails with `AlreadyExists`.

The program knows every object's ID: the pulumi-kubernetes provider's ID of an object is
`<namespace>/<name>` (or `<name>` for a cluster-scoped one), and the stack's objects
(`render/objects.py`) say which of them the stack registers under which type and logical name. So
`plan` sorts the pending creates into the stack's own (imported with their ID: refresh then reads
them, and drops those the cluster does not have) and the rest (cleared: nothing of this program
registers them). `recovered` writes the plan into the exported state, for `pulumi stack import`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ameide_secrets.project import Stack
from ameide_secrets.render.objects import StackObject

CREATING = "creating"
"""The pending operation type the engine keeps across a refresh."""


def pulumi_type(manifest: Mapping[str, Any]) -> str:
    """The pulumi-kubernetes type token of an object: `kubernetes:<group>/<version>:<kind>` (`core` for the core group)."""
    api_version = str(manifest["apiVersion"])
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{manifest['kind']}"


def object_id(manifest: Mapping[str, Any]) -> str:
    """The provider's ID of an object: `namespace/name`, or `name` when cluster-scoped."""
    metadata = manifest["metadata"]
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


def urn_name(urn: str) -> str:
    """The logical name at the end of a URN (`urn:pulumi:<stack>::<project>::<types>::<name>`)."""
    return urn.split("::", 3)[-1]


@dataclass(frozen=True)
class Pending:
    """One entry of `deployment.pending_operations`."""

    urn: str
    type: str
    """The resource's type token."""
    operation: str
    """creating | updating | deleting | reading | importing."""

    @property
    def name(self) -> str:
        return urn_name(self.urn)

    def __str__(self) -> str:
        return f"{self.type} {self.name}"


@dataclass(frozen=True)
class Import:
    pending: Pending
    id: str
    """The provider ID the program gives the object."""


@dataclass(frozen=True)
class Plan:
    imports: tuple[Import, ...]
    """The stack's own pending creates, with the IDs of their objects."""
    cleared: tuple[Pending, ...]
    """Pending creates of resources that are not objects of this stack (providers, components, others), or
    whose URN the state already records (a replacement's new half: the recorded entry stands for the object)."""
    settled: tuple[Pending, ...]
    """Pending updates, deletes and the like: `pulumi refresh` reads the objects again and drops them."""

    @property
    def empty(self) -> bool:
        return not (self.imports or self.cleared or self.settled)


def pending_operations(exported: Mapping[str, Any]) -> list[Pending]:
    """The pending operations of `pulumi stack export`'s output, in the state's order."""
    found = []
    for op in (exported.get("deployment") or {}).get("pending_operations") or []:
        resource = op.get("resource") or {}
        found.append(Pending(str(resource.get("urn", "")), str(resource.get("type", "")), str(op.get("type", ""))))
    return found


def own_objects(stack: Stack) -> dict[tuple[str, str], StackObject]:
    """(type token, logical name) -> object, for every Kubernetes object the stack registers."""
    return {(pulumi_type(o.manifest), o.name): o for o in stack.objects}


def plan(exported: Mapping[str, Any], stack: Stack) -> Plan:
    """What to do with each pending operation of the exported state of `stack`."""
    own = own_objects(stack)
    recorded = {str(r.get("urn")) for r in (exported.get("deployment") or {}).get("resources") or []}
    imports: list[Import] = []
    cleared: list[Pending] = []
    settled: list[Pending] = []
    for pending in pending_operations(exported):
        if pending.operation != CREATING:
            settled.append(pending)
        elif pending.urn not in recorded and (obj := own.get((pending.type, pending.name))) is not None:
            imports.append(Import(pending, object_id(obj.manifest)))
        else:
            cleared.append(pending)
    return Plan(tuple(imports), tuple(cleared), tuple(settled))


def recovered(exported: Mapping[str, Any], planned: Plan) -> dict[str, Any]:
    """The exported state with no pending operation left: the stack's own pending creates moved into
    `resources` with their IDs (a refresh then reads each from the cluster, or drops it if the cluster has
    none), every other one removed. `pulumi stack import` drops every pending operation anyway; the
    updates and deletes among them need nothing, their resources are recorded and the refresh reads them.
    Appended last, an imported resource still follows its parent, provider and dependencies: the engine
    records those before it starts a create that names them."""
    edited = copy.deepcopy(dict(exported))
    deployment = edited["deployment"]
    ids = {item.pending.urn: item.id for item in planned.imports}
    resources = list(deployment.get("resources") or [])
    for op in deployment.get("pending_operations") or []:
        resource = op.get("resource") or {}
        if op.get("type") == CREATING and (urn := resource.get("urn")) in ids:
            resources.append({**resource, "id": ids[urn]})
    deployment["resources"] = resources
    deployment["pending_operations"] = []
    return edited
