"""VaultAccess: Vault's side of the platform's access, as code (stack setting `vaultManage`)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from ameide_secrets.render.vault_plan import AUTH_DESCRIPTION, VaultPlan


@dataclass(frozen=True)
class VaultAccessArgs:
    plan: VaultPlan
    """What Vault must hold for the stack (`Stack.vault`): the auth backend, its config, the read-only
    policies on the declared prefixes, the namespaces' identities, the preview and audit policies and ESO's role."""


class VaultAccess(pulumi.ComponentResource):
    """ESO's kubernetes auth backend, its role, the read-only policies on the declared prefixes and,
    in `referent` mode, one identity per admitted namespace (vault_plan.py says why).

    Vault's address and token come from the default Vault provider (VAULT_ADDR / VAULT_TOKEN or
    `vault:address`), never from this repository.
    """

    def __init__(self, name: str, args: VaultAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:VaultAccess", name, None, opts)
        plan = args.plan
        self.auth_backend = vault.AuthBackend(
            "kubernetes-auth",
            type="kubernetes",
            path=plan.auth_mount,
            description=AUTH_DESCRIPTION,
            # Disabling the mount deletes every role on it, also roles this program does not own:
            # never disabled by Pulumi, in any stack (turning vaultManage off leaves it in place).
            opts=pulumi.ResourceOptions(parent=self, protect=plan.protect, retain_on_delete=True),
        )
        self.auth_config = vault.kubernetes.AuthBackendConfig(
            "kubernetes-auth-config",
            backend=self.auth_backend.path,
            **plan.auth_config,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policies = [
            vault.Policy(name, name=name, policy=hcl, opts=pulumi.ResourceOptions(parent=self))
            for name, hcl in plan.read_policies.items()
        ]
        # referent mode: each admitted namespace's entity owns the login alias `<namespace>/<account>`
        # and carries that namespace's read policy, so Vault itself keeps namespaces apart.
        self.aliases: list[pulumi.Resource] = []
        for identity in plan.identities:
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
        # For the token PR previews run with: reads this configuration, no secret (vault_plan.py).
        self.preview_policy = vault.Policy(
            plan.preview_policy_name,
            name=plan.preview_policy_name,
            policy=plan.preview_policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # For the token `vault-check --max-age` runs with: KV v2 metadata of the declared prefixes, no value.
        self.audit_policy = vault.Policy(
            plan.audit_policy_name,
            name=plan.audit_policy_name,
            policy=plan.audit_policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role = vault.kubernetes.AuthBackendRole(
            plan.role_name,
            backend=self.auth_backend.path,
            role_name=plan.role_name,
            **plan.role,
            # A login before its alias exists would create an entity of its own, without policy,
            # and the alias could then not be created: policies and aliases first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.policies, *self.aliases, self.auth_config]),
        )
        self.register_outputs(
            {
                "authMount": plan.auth_mount,
                "role": plan.role_name,
                "policies": list(plan.read_policies),
                "previewPolicy": plan.preview_policy_name,
                "auditPolicy": plan.audit_policy_name,
            }
        )
