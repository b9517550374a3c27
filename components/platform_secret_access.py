"""PlatformSecretAccess: the platform's one Vault-backed ClusterSecretStore and its identity."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import manifests
from components.manifests import StoreRef
from components.names import resource_name
from components.settings import StackSettings


class PlatformSecretAccess(pulumi.ComponentResource):
    """Access to Vault for every admitted namespace; knows no service and creates no ExternalSecret."""

    store_ref: StoreRef
    """What each ExternalSecret puts in `secretStoreRef`."""

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        namespaces: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ameide:secrets:PlatformSecretAccess", name, None, opts)
        account = manifests.reviewer_service_account(settings)
        self.service_account = k8s.core.v1.ServiceAccount(
            resource_name(account["metadata"]["namespace"], account["metadata"]["name"]),
            metadata=account["metadata"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        binding = manifests.reviewer_binding(settings)
        self.token_reviewer_binding = k8s.rbac.v1.ClusterRoleBinding(
            binding["metadata"]["name"],
            metadata=binding["metadata"],
            role_ref=binding["roleRef"],
            subjects=binding["subjects"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        store = manifests.cluster_secret_store(settings, list(namespaces))
        self.store = k8s.apiextensions.CustomResource(
            store["metadata"]["name"],
            api_version=store["apiVersion"],
            kind=store["kind"],
            metadata=store["metadata"],
            spec=store["spec"],
            # ESO logs in to Vault as soon as the store exists: the identity must be there first.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.service_account, self.token_reviewer_binding],
                # Every ExternalSecret of the stack reads through it.
                protect=settings.protect,
            ),
        )
        self.store_ref = StoreRef(name=settings.store_name)
        self.register_outputs({"storeName": self.store_ref.name, "storeKind": self.store_ref.kind})
