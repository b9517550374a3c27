"""WorkloadSecrets: one team's ExternalSecrets for one workload, from its declaration."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.platform_secret_access import PlatformSecretAccess
from declarations.names import resource_name
from declarations.settings import StackSettings
from declarations.spec import WorkloadSecretsArgs
from rendering import manifests


class WorkloadSecrets(pulumi.ComponentResource):
    """The namespaced ExternalSecrets a workload consumes through the platform's store."""

    def __init__(
        self,
        name: str,
        args: WorkloadSecretsArgs,
        platform: PlatformSecretAccess,
        settings: StackSettings,
        adopt_provider: k8s.Provider | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ameide:secrets:WorkloadSecrets", name, None, opts)
        self.external_secrets: list[k8s.apiextensions.CustomResource] = []
        for spec in args.external_secrets:
            manifest = manifests.external_secret(args, spec, settings)
            adopted = args.adopts(spec)
            if adopted and adopt_provider is None:
                raise ValueError(
                    f"{args.workload}: ExternalSecret {spec.name} adopts a legacy object but no adopt_provider was given"
                )
            self.external_secrets.append(
                k8s.apiextensions.CustomResource(
                    resource_name(args.namespace, spec.name),
                    api_version=manifest["apiVersion"],
                    kind=manifest["kind"],
                    metadata=manifest["metadata"],
                    spec=manifest["spec"],
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        # Children do not inherit the component's dependencies: wait for the
                        # store here, or ESO reports "store not found" until its next retry, and
                        # for the admission policy, or a newly declared key is refused.
                        depends_on=platform.prerequisites,
                        protect=settings.protect,
                        # Only objects the legacy chart still holds may be upserted; anything
                        # else must fail loudly on AlreadyExists (a name clash, not a migration).
                        provider=adopt_provider if adopted else None,
                    ),
                )
            )
        # Cluster-managed Secrets (e.g. CNPG's) are listed beside the hydrated ones: consumers
        # see every Secret the workload may mount, and none of them is re-created here.
        self.secret_names = [spec.target_name for spec in args.external_secrets] + list(args.existing_secrets)
        self.register_outputs(
            {
                "namespace": args.namespace,
                "externalSecrets": [spec.name for spec in args.external_secrets],
                "existingSecrets": list(args.existing_secrets),
                "secretNames": self.secret_names,
            }
        )
