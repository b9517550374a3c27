"""PlatformSecretAccess: the platform's one Vault-backed ClusterSecretStore, its identity and its admission policies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ameide_secrets.render.objects import Key, StackObject
from ameide_secrets.vocabulary import STORE_KIND
from components.kinds import register


@dataclass(frozen=True)
class PlatformSecretAccessArgs:
    """The stack's platform objects (`Stack.platform_objects`: identities, admission policies, the preview
    identity, the store), and what the store must wait for on Vault's side (VaultAccess, where managed)."""

    objects: Sequence[StackObject]
    vault_ready: pulumi.Resource | None = None

    def __post_init__(self) -> None:
        if [o for o in self.objects if o.workload is not None]:
            raise ValueError("PlatformSecretAccess registers no workload's objects")
        if [o.kind for o in self.objects].count(STORE_KIND) != 1:
            raise ValueError(f"PlatformSecretAccess registers exactly one {STORE_KIND}")


class PlatformSecretAccess(pulumi.ComponentResource):
    """Access to Vault for every admitted namespace; knows no service and creates no ExternalSecret."""

    registered: dict[Key, pulumi.Resource]
    """Each object's resource by (kind, name): what the workloads' ExternalSecrets wait for (the store)."""

    def __init__(self, name: str, args: PlatformSecretAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:PlatformSecretAccess", name, None, opts)
        self.registered = {}
        vault = [args.vault_ready] if args.vault_ready else []
        for obj in args.objects:
            self.registered[obj.key] = register(obj, self.registered, self, also_after=vault if obj.after_vault else ())
        [store] = [o for o in args.objects if o.kind == STORE_KIND]
        self.store = self.registered[store.key]
        self.register_outputs({"storeName": store.manifest["metadata"]["name"], "storeKind": STORE_KIND})
