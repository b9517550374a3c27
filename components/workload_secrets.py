"""WorkloadSecrets: one team's ExternalSecrets for one workload, from its declaration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ameide_secrets.declare.contract import WorkloadSecretsArgs
from ameide_secrets.render.objects import Key, StackObject
from components.kinds import register

ADOPTS = (
    "adopts the legacy chart's ExternalSecret {name} in place (kubernetes-adopt upserts it; its UID, its Secret and "
    "their values are kept); docs/migration.md"
)


@dataclass(frozen=True)
class WorkloadSecretsComponentArgs:
    """What one WorkloadSecrets needs. (`WorkloadSecretsArgs` is the team contract every module
    writes, a public name that stays; this holds that declaration and what the stack adds to it.)"""

    declaration: WorkloadSecretsArgs
    objects: Sequence[StackObject]
    """The declaration's ExternalSecrets as the stack renders them (`Stack.workload_objects`), in its order:
    exactly what the offline preview, the CRD schema checks and the guardrails see."""
    platform: Mapping[Key, pulumi.Resource]
    """The platform's resources by (kind, name): what the ExternalSecrets wait for (the store)."""
    adopt_provider: k8s.Provider | None = None
    """The upserting provider for ExternalSecrets taken over from the legacy chart (and only those)."""

    def __post_init__(self) -> None:
        declared = [spec.name for spec in self.declaration.external_secrets]
        rendered = [o.manifest["metadata"]["name"] for o in self.objects]
        if rendered != declared or any(o.workload != self.declaration.workload for o in self.objects):
            raise ValueError(f"{self.declaration.workload}: rendered ExternalSecrets {rendered} are not the declared {declared}")
        adopting = [o.manifest["metadata"]["name"] for o in self.objects if o.adopt]
        if adopting and self.adopt_provider is None:
            raise ValueError(
                f"{self.declaration.workload}: ExternalSecret {adopting[0]} adopts a legacy object but no adopt_provider was given"
            )


class WorkloadSecrets(pulumi.ComponentResource):
    """The namespaced ExternalSecrets a workload consumes through the platform's store."""

    def __init__(self, name: str, args: WorkloadSecretsComponentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:WorkloadSecrets", name, None, opts)
        declaration = args.declaration
        self.external_secrets = [
            # Only objects the legacy chart still holds may be upserted; anything else must fail loudly
            # on AlreadyExists (a name clash, not a migration).
            register(obj, args.platform, self, provider=args.adopt_provider if obj.adopt else None)
            for obj in args.objects
        ]
        for obj, resource in zip(args.objects, self.external_secrets, strict=True):
            if obj.adopt:
                # The engine shows an upsert as a plain `create`: say beside it that the live object is kept.
                pulumi.log.info(ADOPTS.format(name=obj.name), resource)
        self.secret_names = [spec.target_name for spec in declaration.external_secrets] + list(declaration.existing_secrets)
        self.register_outputs(
            {
                "namespace": declaration.namespace,
                "externalSecrets": [spec.name for spec in declaration.external_secrets],
                "existingSecrets": list(declaration.existing_secrets),
                "secretNames": self.secret_names,
            }
        )
