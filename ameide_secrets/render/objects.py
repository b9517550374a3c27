"""Every Kubernetes object a stack applies, with what each waits for: the one list the components register.

The components register exactly these (`components/kinds.py` maps each kind to its Pulumi resource), the
offline YAML view writes them, the CRD schemas and the guardrails judge them: one list, so the program
and its previews cannot drift apart. Pure: no `pulumi` import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ameide_secrets.declare.inventory import DeclaredWorkload, Grant
from ameide_secrets.declare.names import resource_name
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.render import admission, manifests, preview_access

Key = tuple[str, str]
"""(kind, Pulumi logical name): unique within a stack (a policy and its binding share a name)."""


@dataclass(frozen=True)
class StackObject:
    """One object, as the API server receives it, and how it is registered."""

    manifest: dict[str, Any]
    workload: str | None = None
    """The workload whose WorkloadSecrets registers it; None for the platform's (PlatformSecretAccess)."""
    after: tuple[Key, ...] = ()
    """Objects of the stack it is created after (Pulumi `depends_on`)."""
    after_vault: bool = False
    """It also waits for Vault's side (VaultAccess, where Vault is managed): the store, whose ESO logs in at once."""
    protect: bool = False
    adopt: bool = False
    """Taken over from the legacy chart: registered through the upserting provider (and only this one)."""
    name: str = field(init=False)
    """Pulumi logical name: `namespace/name`, or `name` for a cluster-scoped object. It omits the owning
    component on purpose (names.resource_name): a workload moving owners keeps its URN."""

    def __post_init__(self) -> None:
        metadata = self.manifest["metadata"]
        namespace = metadata.get("namespace")
        object.__setattr__(self, "name", resource_name(namespace, metadata["name"]) if namespace else metadata["name"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def key(self) -> Key:
        return self.kind, self.name


def _keys(objects: Sequence[StackObject]) -> tuple[Key, ...]:
    return tuple(o.key for o in objects)


def stack_objects(
    settings: StackSettings, owned: Sequence[DeclaredWorkload], namespaces: Sequence[str], grants: Sequence[Grant]
) -> list[StackObject]:
    """The platform's objects, then each owned workload's ExternalSecrets, in registration order."""
    accounts = [StackObject(m) for m in manifests.reviewer_service_accounts(settings, namespaces)]
    # Only where Vault reviews logins with the presented token (manifests.reviewer_bindings).
    reviewers = [StackObject(m) for m in manifests.reviewer_bindings(settings, namespaces)]
    policies: list[StackObject] = []
    for policy in admission.policies(settings, namespaces, grants):
        first = StackObject(policy)
        # A binding to a policy that does not exist yet enforces nothing.
        policies += [first, StackObject(admission.binding(policy), after=(first.key,))]
    # The preview identity's role, binding, policy and its binding: each after the one before.
    preview: list[StackObject] = []
    for manifest in preview_access.objects(settings):
        preview.append(StackObject(manifest, after=_keys(preview[-1:])))
    # ESO logs in to Vault as soon as the store exists: its identity (and, where managed, Vault's role and
    # policy) must be there first, and the admission policies too, so no namespace is served before they know it.
    store = StackObject(
        manifests.cluster_secret_store(settings, namespaces),
        after=_keys([*accounts, *reviewers, *policies]),
        after_vault=True,
        protect=settings.protect,
    )
    objects = [*accounts, *reviewers, *policies, *preview, store]
    for declared in owned:
        args = declared.args
        # Each waits for the store (ESO reports "store not found" until its next retry otherwise), and
        # through it for the admission policies, or a newly declared key is refused: one edge instead of seven.
        objects += [
            StackObject(
                manifests.external_secret(args, spec, settings),
                workload=args.workload,
                after=(store.key,),
                protect=settings.protect,
                adopt=args.adopts(spec),
            )
            for spec in args.external_secrets
        ]
    return objects
