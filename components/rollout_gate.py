"""RolloutGate: a stack may only own workloads that the deployed upstream stack already owns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi


class RolloutGateError(pulumi.RunError):
    """A promotion skipped a stage. A RunError: Pulumi prints it without a traceback."""


def qualified(upstream: str, organization: str, project: str) -> str:
    """`staging` -> `<organization>/<project>/staging`; a fully qualified name stays as it is."""
    return upstream if "/" in upstream else f"{organization}/{project}/{upstream}"


def skipped(owned: Mapping[str, str], upstream: str, deployed: Any) -> list[str]:
    """One message per workload (name -> declaring module) this stack would own that the deployed `upstream` does not."""
    if not isinstance(deployed, list):
        return [f"stack {upstream} exports no ownedWorkloads: deploy it first (pulumi up -s {upstream})"]
    return [
        f"workload {name!r} ({owned[name]}) is not owned by the deployed stack {upstream}: promote it there first "
        f"(set rollout to that stack's environment, merge and pulumi up), then here"
        for name in sorted(set(owned) - set(deployed))
    ]


def enforce(owned: Mapping[str, str], upstream: str, deployed: Any) -> list[str]:
    """`owned`'s workload names, or RolloutGateError naming every workload that skipped `upstream`."""
    if problems := skipped(owned, upstream, deployed):
        raise RolloutGateError("rollout gate: " + "\nrollout gate: ".join(problems))
    return sorted(owned)


class RolloutGate(pulumi.ComponentResource):
    """Fails preview and update when this stack would get ahead of `upstream` (a skipped stage)."""

    def __init__(self, name: str, upstream: str, owned: Mapping[str, str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:RolloutGate", name, None, opts)
        upstream = qualified(upstream, pulumi.get_organization(), pulumi.get_project())
        self.reference = pulumi.StackReference(upstream, opts=pulumi.ResourceOptions(parent=self))
        owned = dict(owned)
        # The reference's outputs are known at preview time, so the check fails `pulumi preview`.
        self.checked = self.reference.get_output("ownedWorkloads").apply(lambda deployed: enforce(owned, upstream, deployed))
        self.register_outputs({"upstream": upstream, "checked": self.checked})
