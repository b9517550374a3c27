"""VaultAccess: Vault's side of the platform's access, as code (stack setting `vaultManage`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from declarations.inventory import Grant
from declarations.settings import StackSettings
from rendering import vault_config


@dataclass(frozen=True)
class VaultAccessArgs:
    """What Vault must allow: the stack's Vault settings, and the namespaces and prefixes its declarations admit."""

    settings: StackSettings
    namespaces: Sequence[str]
    grants: Sequence[Grant]


class VaultAccess(pulumi.ComponentResource):
    """ESO's kubernetes auth backend, its role, the read-only policies on the declared prefixes and,
    in `referent` mode, one identity per admitted namespace (vault_config.py says why).

    Vault's address and token come from the default Vault provider (VAULT_ADDR / VAULT_TOKEN or
    `vault:address`), never from this repository.
    """

    def __init__(self, name: str, args: VaultAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:VaultAccess", name, None, opts)
        settings, namespaces, grants = args.settings, args.namespaces, args.grants
        self.auth_backend = vault.AuthBackend(
            "kubernetes-auth",
            type="kubernetes",
            path=settings.vault_auth_mount,
            description="Kubernetes service accounts; ESO logs in here (managed by ameide-secrets)",
            # Disabling the mount deletes every role on it, also roles this program does not own:
            # never disabled by Pulumi, in any stack (turning vaultManage off leaves it in place).
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protect, retain_on_delete=True),
        )
        self.auth_config = vault.kubernetes.AuthBackendConfig(
            "kubernetes-auth-config",
            backend=self.auth_backend.path,
            **vault_config.auth_backend_config(settings),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policies = [
            vault.Policy(name, name=name, policy=hcl, opts=pulumi.ResourceOptions(parent=self))
            for name, hcl in vault_config.read_policies(settings, namespaces, grants).items()
        ]
        # referent mode: each admitted namespace's entity owns the login alias `<namespace>/<account>`
        # and carries that namespace's read policy, so Vault itself keeps namespaces apart.
        self.aliases: list[pulumi.Resource] = []
        for identity in vault_config.identities(settings, namespaces):
            entity = vault.identity.Entity(
                identity.entity,
                name=identity.entity,
                policies=[identity.policy],
                metadata={"namespace": identity.namespace, "managed-by": "ameide-secrets"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=self.policies),
            )
            self.aliases.append(
                vault.identity.EntityAlias(
                    identity.alias,
                    name=identity.alias,
                    mount_accessor=self.auth_backend.accessor,
                    canonical_id=entity.id,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        # For the token PR previews run with: reads this configuration, no secret (vault_config.py).
        self.preview_policy = vault.Policy(
            vault_config.preview_policy_name(settings),
            name=vault_config.preview_policy_name(settings),
            policy=vault_config.preview_policy(settings, namespaces),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role = vault.kubernetes.AuthBackendRole(
            settings.vault_role,
            backend=self.auth_backend.path,
            **vault_config.role(settings, namespaces),
            # A login before its alias exists would create an entity of its own, without policy,
            # and the alias could then not be created: policies and aliases first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.policies, *self.aliases, self.auth_config]),
        )
        self.register_outputs(
            {
                "authMount": settings.vault_auth_mount,
                "role": settings.vault_role,
                "policies": list(vault_config.read_policies(settings, namespaces, grants)),
                "previewPolicy": vault_config.preview_policy_name(settings),
            }
        )
