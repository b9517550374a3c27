"""The one kind -> Pulumi resource mapping: how a `StackObject` (render/objects.py) becomes a registration.

Both components register through `register`, so what Pulumi sends is the manifest the offline preview,
the CRD schemas and the guardrails saw, field for field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ameide_secrets.render.objects import Key, StackObject
from ameide_secrets.vocabulary import is_eso

# Typed resources take the manifest's top-level fields as keyword arguments (snake_case).
_TYPED: dict[str, Any] = {
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "ClusterRole": k8s.rbac.v1.ClusterRole,
    "ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
    "ValidatingAdmissionPolicy": k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
    "ValidatingAdmissionPolicyBinding": k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
}
_ARGUMENTS = {"metadata": "metadata", "spec": "spec", "rules": "rules", "roleRef": "role_ref", "subjects": "subjects"}


def register(
    obj: StackObject,
    registered: Mapping[Key, pulumi.Resource],
    parent: pulumi.Resource,
    *,
    also_after: Sequence[pulumi.Input[pulumi.Resource]] = (),
    provider: pulumi.ProviderResource | None = None,
) -> pulumi.Resource:
    """Register `obj` as a child of `parent`, after the objects it names (found in `registered`) and `also_after`."""
    manifest = obj.manifest
    opts = pulumi.ResourceOptions(
        parent=parent,
        # Children do not inherit the component's dependencies: each states its own.
        depends_on=[*(registered[key] for key in obj.after), *also_after],
        protect=obj.protect,
        provider=provider,
    )
    if is_eso(manifest):
        custom: pulumi.Resource = k8s.apiextensions.CustomResource(
            obj.name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=opts,
        )
        return custom
    arguments = {_ARGUMENTS[field]: value for field, value in manifest.items() if field not in ("apiVersion", "kind")}
    constructor: type[pulumi.CustomResource] = _TYPED[obj.kind]
    return constructor(obj.name, **arguments, opts=opts)
