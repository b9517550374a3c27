"""ameide-secrets: wiring only. Settings -> platform access -> team workloads -> exports."""

import pulumi
import pulumi_kubernetes as k8s

from components import inventory
from components.platform_secret_access import PlatformSecretAccess
from components.settings import StackSettings
from components.workload_secrets import WorkloadSecrets

settings = StackSettings.from_pulumi()
declared = inventory.discover()
owned = inventory.owned(declared, settings.environment)

provider = k8s.Provider("kubernetes", **settings.kubernetes_provider_args())
platform = PlatformSecretAccess(
    "platform",
    settings=settings,
    namespaces=inventory.namespaces(owned),
    opts=pulumi.ResourceOptions(provider=provider),
)
workloads = {
    d.args.workload: WorkloadSecrets(
        d.args.workload,
        d.args,
        platform=platform,
        refresh_interval=settings.refresh_interval,
        opts=pulumi.ResourceOptions(provider=provider),
    )
    for d in owned
}

pulumi.export("environment", settings.environment.value)
pulumi.export("storeName", platform.store_ref.name)
pulumi.export("storeKind", platform.store_ref.kind)
pulumi.export("ownedWorkloads", sorted(workloads))
pulumi.export("secretsByWorkload", {name: w.secret_names for name, w in workloads.items()})
