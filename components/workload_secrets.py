"""WorkloadSecrets: one team's ExternalSecrets for one workload, from its declaration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from declarations.names import resource_name
from declarations.settings import StackSettings
from declarations.spec import WorkloadSecretsArgs
from rendering import manifests


@dataclass(frozen=True)
class WorkloadSecretsComponentArgs:
    """What one WorkloadSecrets needs. (`WorkloadSecretsArgs` is the team contract every module
    writes, a public name that stays; this holds that declaration and what the stack adds to it.)"""

    declaration: WorkloadSecretsArgs
    external_secrets: Sequence[Mapping[str, Any]]
    """The declaration's ExternalSecrets as rendered for the stack (`rendering/manifests.py`), in its order:
    exactly what the offline preview, the CRD schema checks and the policies see."""
    protect: bool
    prerequisites: Sequence[pulumi.Resource]
    """What each ExternalSecret waits for: the store it reads through (which waits for the admission policies)."""
    adopt_provider: k8s.Provider | None = None
    """The upserting provider for ExternalSecrets taken over from the legacy chart (and only those)."""

    def __post_init__(self) -> None:
        declared = [spec.name for spec in self.declaration.external_secrets]
        rendered = [manifest["metadata"]["name"] for manifest in self.external_secrets]
        if rendered != declared:
            raise ValueError(f"{self.declaration.workload}: rendered ExternalSecrets {rendered} are not the declared {declared}")
        adopting = [spec.name for spec in self.declaration.external_secrets if self.declaration.adopts(spec)]
        if adopting and self.adopt_provider is None:
            raise ValueError(
                f"{self.declaration.workload}: ExternalSecret {adopting[0]} adopts a legacy object but no adopt_provider was given"
            )

    @classmethod
    def for_stack(
        cls,
        declaration: WorkloadSecretsArgs,
        settings: StackSettings,
        prerequisites: Sequence[pulumi.Resource],
        adopt_provider: k8s.Provider | None = None,
    ) -> WorkloadSecretsComponentArgs:
        """The declaration rendered with the stack's settings, as `__main__.py` wires it."""
        rendered = [manifests.external_secret(declaration, spec, settings) for spec in declaration.external_secrets]
        return cls(declaration, rendered, settings.protect, prerequisites, adopt_provider)


class WorkloadSecrets(pulumi.ComponentResource):
    """The namespaced ExternalSecrets a workload consumes through the platform's store."""

    def __init__(self, name: str, args: WorkloadSecretsComponentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:WorkloadSecrets", name, None, opts)
        declaration = args.declaration
        self.external_secrets: list[k8s.apiextensions.CustomResource] = []
        for spec, manifest in zip(declaration.external_secrets, args.external_secrets, strict=True):
            self.external_secrets.append(
                k8s.apiextensions.CustomResource(
                    resource_name(declaration.namespace, spec.name),
                    api_version=manifest["apiVersion"],
                    kind=manifest["kind"],
                    metadata=manifest["metadata"],
                    spec=manifest["spec"],
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        # Children do not inherit the component's dependencies: wait for the
                        # store here, or ESO reports "store not found" until its next retry, and
                        # through it for the admission policies, or a newly declared key is refused.
                        depends_on=list(args.prerequisites),
                        protect=args.protect,
                        # Only objects the legacy chart still holds may be upserted; anything
                        # else must fail loudly on AlreadyExists (a name clash, not a migration).
                        provider=args.adopt_provider if declaration.adopts(spec) else None,
                    ),
                )
            )
        # Cluster-managed Secrets (e.g. CNPG's) are listed beside the hydrated ones: consumers
        # see every Secret the workload may mount, and none of them is re-created here.
        self.secret_names = [spec.target_name for spec in declaration.external_secrets] + list(declaration.existing_secrets)
        self.register_outputs(
            {
                "namespace": declaration.namespace,
                "externalSecrets": [spec.name for spec in declaration.external_secrets],
                "existingSecrets": list(declaration.existing_secrets),
                "secretNames": self.secret_names,
            }
        )
