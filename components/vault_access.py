"""VaultAccess: Vault's side of the platform's access, as code (stack setting `vaultManage`)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_vault as vault

from components import vault_config
from components.inventory import Grant
from components.settings import StackSettings


class VaultAccess(pulumi.ComponentResource):
    """ESO's kubernetes auth backend, its role and the read-only policy on the declared prefixes.

    Vault's address and token come from the default Vault provider (VAULT_ADDR / VAULT_TOKEN or
    `vault:address`), never from this repository.
    """

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        namespaces: Sequence[str],
        grants: Sequence[Grant],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ameide:secrets:VaultAccess", name, None, opts)
        self.auth_backend = vault.AuthBackend(
            "kubernetes-auth",
            type="kubernetes",
            path=settings.vault_auth_mount,
            description="Kubernetes service accounts; ESO logs in here (managed by ameide-secrets)",
            # Disabling the mount deletes every role on it, also roles this program does not own.
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect),
        )
        self.auth_config = vault.kubernetes.AuthBackendConfig(
            "kubernetes-auth-config",
            backend=self.auth_backend.path,
            **vault_config.auth_backend_config(settings),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policy = vault.Policy(
            vault_config.policy_name(settings),
            name=vault_config.policy_name(settings),
            policy=vault_config.acl_policy(settings, grants),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # For the token PR previews run with: reads this configuration, no secret (vault_config.py).
        self.preview_policy = vault.Policy(
            vault_config.preview_policy_name(settings),
            name=vault_config.preview_policy_name(settings),
            policy=vault_config.preview_policy(settings),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role = vault.kubernetes.AuthBackendRole(
            settings.vault_role,
            backend=self.auth_backend.path,
            **vault_config.role(settings, namespaces),
            # A role naming a policy that does not exist yet would log ESO in without any grant.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy, self.auth_config]),
        )
        self.register_outputs(
            {
                "authMount": settings.vault_auth_mount,
                "role": settings.vault_role,
                "policy": vault_config.policy_name(settings),
                "previewPolicy": vault_config.preview_policy_name(settings),
            }
        )
