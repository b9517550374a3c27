"""PlatformSecretAccess: the platform's one Vault-backed ClusterSecretStore, its identity and its admission policies."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ameide_secrets.render.objects import Key, StackObject
from ameide_secrets.vocabulary import STORE_KIND
from components.kinds import register

ADMISSION_REFRESH_SECONDS = 2.0
"""How long `pulumi up` waits after the admission policies are written, before the store and the
ExternalSecrets: the API server recompiles its policies once a second (`policyRefreshInterval` in
k8s.io/apiserver's policy_source.go), so an ExternalSecret sent at once after a grant widens is judged
by the previous policy and refused (seen on the loopback clusters). Never in a preview."""
_ADMISSION_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
sleep = time.sleep
"""How the wait is spent (the tests record it instead)."""


def _settled(admission: Sequence[pulumi.Resource]) -> pulumi.Output[pulumi.Resource]:
    """The first of `admission`, once all of them are written and the API server has had time to load them."""

    def wait(_: object) -> pulumi.Resource:
        if not pulumi.runtime.is_dry_run():
            sleep(ADMISSION_REFRESH_SECONDS)
        return admission[0]

    return pulumi.Output.all(*(resource.urn for resource in admission)).apply(wait)


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
        [store] = [o for o in args.objects if o.kind == STORE_KIND]
        for obj in args.objects:
            also_after: list[pulumi.Input[pulumi.Resource]] = list(vault) if obj.after_vault else []
            if obj is store:
                admission = [self.registered[key] for key in obj.after if key[0] in _ADMISSION_KINDS]
                also_after += [_settled(admission)] if admission else []
            self.registered[obj.key] = register(obj, self.registered, self, also_after=also_after)
        self.store = self.registered[store.key]
        self.register_outputs({"storeName": store.manifest["metadata"]["name"], "storeKind": STORE_KIND})
