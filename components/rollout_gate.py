"""RolloutGate: a stack may only own workloads that the deployed upstream stack already owns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


class RolloutGateError(pulumi.RunError):
    """A promotion skipped a stage. A RunError: Pulumi prints it without a traceback."""


def skipped(owned: Sequence[str], upstream: str, deployed: Any) -> list[str]:
    """One message per workload this stack would own that the deployed `upstream` does not."""
    if not isinstance(deployed, list):
        return [f"stack {upstream} exports no ownedWorkloads: deploy it first (pulumi up -s {upstream})"]
    return [
        f"workload {name!r} is not owned by the deployed stack {upstream}: promote it there first "
        f"(set rollout to that stack's environment, merge and pulumi up), then here"
        for name in sorted(set(owned) - set(deployed))
    ]


class RolloutGate(pulumi.ComponentResource):
    """Fails preview and update when this stack would get ahead of `upstream` (a skipped stage)."""

    def __init__(self, name: str, upstream: str, owned: Sequence[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:RolloutGate", name, None, opts)
        self.reference = pulumi.StackReference(upstream, opts=pulumi.ResourceOptions(parent=self))
        owned = list(owned)

        def check(deployed: Any) -> list[str]:
            problems = skipped(owned, upstream, deployed)
            if problems:
                raise RolloutGateError("rollout gate: " + "\nrollout gate: ".join(problems))
            return owned

        # The reference's outputs are known at preview time, so the check fails `pulumi preview`.
        self.checked = self.reference.get_output("ownedWorkloads").apply(check)
        self.register_outputs({"upstream": upstream, "checked": self.checked})
