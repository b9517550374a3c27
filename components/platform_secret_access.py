"""PlatformSecretAccess: the platform's one Vault-backed ClusterSecretStore, its identity and its admission policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from declarations.inventory import Grant
from declarations.names import resource_name
from declarations.settings import StackSettings
from rendering import admission, manifests, preview_access
from rendering.manifests import StoreRef


@dataclass(frozen=True)
class PlatformSecretAccessArgs:
    """The stack's settings and what its declarations admit; `vault_ready`: what the store must wait for
    on Vault's side (the VaultAccess component, where Vault is managed)."""

    settings: StackSettings
    namespaces: Sequence[str]
    grants: Sequence[Grant]
    vault_ready: pulumi.Resource | None = None


class PlatformSecretAccess(pulumi.ComponentResource):
    """Access to Vault for every admitted namespace; knows no service and creates no ExternalSecret."""

    store_ref: StoreRef
    """What each ExternalSecret puts in `secretStoreRef`."""
    prerequisites: list[pulumi.Resource]
    """What each ExternalSecret waits for: the store it reads through, which itself waits for the admission
    policies that judge the ExternalSecret (so one edge each instead of seven: 3000 fewer gives a faster run)."""

    def __init__(
        self,
        name: str,
        args: PlatformSecretAccessArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ameide:secrets:PlatformSecretAccess", name, None, opts)
        settings, namespaces, grants = args.settings, args.namespaces, args.grants
        child = pulumi.ResourceOptions(parent=self)
        self.service_accounts = [
            k8s.core.v1.ServiceAccount(
                resource_name(account["metadata"]["namespace"], account["metadata"]["name"]),
                metadata=account["metadata"],
                opts=child,
            )
            for account in manifests.reviewer_service_accounts(settings, namespaces)
        ]
        # Only where Vault reviews logins with the presented token (manifests.reviewer_bindings).
        self.token_reviewer_bindings = [
            k8s.rbac.v1.ClusterRoleBinding(
                binding["metadata"]["name"],
                metadata=binding["metadata"],
                role_ref=binding["roleRef"],
                subjects=binding["subjects"],
                opts=child,
            )
            for binding in manifests.reviewer_bindings(settings, namespaces)
        ]
        self.admission: list[pulumi.Resource] = []
        for manifest in admission.policies(settings, namespaces, grants):
            policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                manifest["metadata"]["name"], metadata=manifest["metadata"], spec=manifest["spec"], opts=child
            )
            bound = admission.binding(manifest)
            self.admission += [
                policy,
                k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                    bound["metadata"]["name"],
                    metadata=bound["metadata"],
                    spec=bound["spec"],
                    # A binding to a policy that does not exist yet enforces nothing.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
                ),
            ]
        self.preview_access = self._preview_access(settings)
        store = manifests.cluster_secret_store(settings, namespaces)
        self.store = k8s.apiextensions.CustomResource(
            store["metadata"]["name"],
            api_version=store["apiVersion"],
            kind=store["kind"],
            metadata=store["metadata"],
            spec=store["spec"],
            # ESO logs in to Vault as soon as the store exists: the identity (and, where managed,
            # Vault's role and policy) must be there first, and the admission policies too, so no
            # namespace is served before they know it.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *self.service_accounts,
                    *self.token_reviewer_bindings,
                    *self.admission,
                    *([args.vault_ready] if args.vault_ready else []),
                ],
                # Every ExternalSecret of the stack reads through it.
                protect=settings.protect,
            ),
        )
        self.store_ref = StoreRef(name=settings.store_name)
        # An ExternalSecret with a newly declared key created before the policy knows its prefix is
        # refused: it waits for the store, which is registered only once every policy has been applied.
        self.prerequisites = [self.store]
        self.register_outputs({"storeName": self.store_ref.name, "storeKind": self.store_ref.kind})

    def _preview_access(self, settings: StackSettings) -> list[pulumi.Resource]:
        """Read and dry-run for the identity PR previews run as (preview_access.py); none without `previewIdentity`."""
        registered: list[pulumi.Resource] = []
        for manifest in preview_access.objects(settings):
            # Each depends on the one before: role, binding, policy, policy binding.
            opts = pulumi.ResourceOptions(parent=self, depends_on=registered[-1:])
            name = manifest["metadata"]["name"]
            kind = manifest["kind"]
            if kind == "ClusterRole":
                resource: pulumi.Resource = k8s.rbac.v1.ClusterRole(
                    name, metadata=manifest["metadata"], rules=manifest["rules"], opts=opts
                )
            elif kind == "ClusterRoleBinding":
                resource = k8s.rbac.v1.ClusterRoleBinding(
                    name, metadata=manifest["metadata"], role_ref=manifest["roleRef"], subjects=manifest["subjects"], opts=opts
                )
            elif kind == "ValidatingAdmissionPolicy":
                resource = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                    name, metadata=manifest["metadata"], spec=manifest["spec"], opts=opts
                )
            else:
                resource = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                    name, metadata=manifest["metadata"], spec=manifest["spec"], opts=opts
                )
            registered.append(resource)
        return registered
