"""ameide-secrets: wiring only. Project -> Stack -> components -> exports."""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from ameide_secrets.declare.inventory import DeclarationErrors
from ameide_secrets.declare.settings import PROJECT, SettingsError
from ameide_secrets.project import Project
from components.platform_secret_access import PlatformSecretAccess, PlatformSecretAccessArgs
from components.rollout_gate import RolloutGate, RolloutGateArgs
from components.vault_access import VaultAccess, VaultAccessArgs
from components.workload_secrets import WorkloadSecrets, WorkloadSecretsComponentArgs

try:
    # The project is the folder of this file; its settings are what the CLI was given for this stack.
    stack = Project(Path(__file__).resolve().parent).stack(pulumi.get_stack(), lookup=pulumi.Config(PROJECT).get)
    stack.objects  # noqa: B018 - every declaration read and checked before anything is registered
except (SettingsError, DeclarationErrors) as error:
    # Mistakes to fix in a file, not bugs: a RunError is printed without a traceback.
    raise pulumi.RunError(str(error)) from None

provider = k8s.Provider("kubernetes", **stack.settings.kubernetes_provider_args())
# Only ExternalSecrets taken over from the legacy bundle may update an existing object.
adopt_provider = (
    k8s.Provider("kubernetes-adopt", upsert_existing_objects=True, **stack.settings.kubernetes_provider_args())
    if stack.adopting
    else None
)
# Vault's provider is the default one: address and token from VAULT_ADDR / VAULT_TOKEN or vault:address.
vault_access = VaultAccess("vault", VaultAccessArgs(stack.vault)) if stack.settings.vault_manage else None
platform = PlatformSecretAccess(
    "platform",
    PlatformSecretAccessArgs(stack.platform_objects, vault_ready=vault_access),
    opts=pulumi.ResourceOptions(provider=provider),
)
for declared in stack.owned:
    workload = declared.args.workload
    WorkloadSecrets(
        workload,
        WorkloadSecretsComponentArgs(declared.args, stack.workload_objects(workload), platform.registered, adopt_provider),
        opts=pulumi.ResourceOptions(provider=provider),
    )
if stack.settings.rollout_gate:
    RolloutGate("rollout-gate", RolloutGateArgs(upstream=stack.settings.rollout_gate_stack, owned=stack.modules))

for name, value in stack.outputs.items():
    pulumi.export(name, value)
