"""ameide-secrets: wiring only. Settings -> platform access -> team workloads -> exports."""

import pulumi
import pulumi_kubernetes as k8s

from components.platform_secret_access import PlatformSecretAccess, PlatformSecretAccessArgs
from components.rollout_gate import RolloutGate, RolloutGateArgs
from components.vault_access import VaultAccess, VaultAccessArgs
from components.workload_secrets import WorkloadSecrets, WorkloadSecretsComponentArgs
from declarations import inventory
from declarations.settings import PROJECT, SettingsError, StackSettings

try:
    settings = StackSettings.from_lookup(pulumi.Config(PROJECT).get, pulumi.get_stack())
    declared = inventory.discover()
except (SettingsError, inventory.DeclarationErrors) as error:
    # Mistakes to fix in a file, not bugs: a RunError is printed without a traceback.
    raise pulumi.RunError(str(error)) from None
owned = inventory.owned(declared, settings.environment)
namespaces = inventory.namespaces(owned)
grants = inventory.grants(owned)

provider = k8s.Provider("kubernetes", **settings.kubernetes_provider_args())
# Only ExternalSecrets taken over from the legacy bundle may update an existing object.
adopt_provider = (
    k8s.Provider("kubernetes-adopt", upsert_existing_objects=True, **settings.kubernetes_provider_args())
    if inventory.adopting(owned)
    else None
)
# Vault's provider is the default one: address and token from VAULT_ADDR / VAULT_TOKEN or vault:address.
vault_access = VaultAccess("vault", VaultAccessArgs(settings, namespaces, grants)) if settings.vault_manage else None
platform = PlatformSecretAccess(
    "platform",
    PlatformSecretAccessArgs(settings, namespaces, grants, vault_ready=vault_access),
    opts=pulumi.ResourceOptions(provider=provider),
)
workloads = {
    d.args.workload: WorkloadSecrets(
        d.args.workload,
        WorkloadSecretsComponentArgs.for_stack(d.args, settings, platform.prerequisites, adopt_provider),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    for d in owned
}
if settings.rollout_gate:
    RolloutGate("rollout-gate", RolloutGateArgs(upstream=settings.rollout_gate_stack, owned=inventory.modules(owned)))

pulumi.export("environment", settings.environment.value)
pulumi.export("storeName", platform.store_ref.name)
pulumi.export("storeKind", platform.store_ref.kind)
pulumi.export("ownedWorkloads", sorted(workloads))
pulumi.export("secretsByWorkload", {name: w.secret_names for name, w in workloads.items()})
