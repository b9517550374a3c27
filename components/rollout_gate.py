"""RolloutGate: a stack may only own workloads that the deployed upstream stack already owns (rules: gate.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from ameide_secrets.rules.gate import RolloutGateError, enforce, qualified


def _enforced(owned: Mapping[str, str], upstream: str, deployed: Any) -> list[str]:
    try:
        return enforce(owned, upstream, deployed)
    except RolloutGateError as error:
        # A RunError: Pulumi prints it without a traceback.
        raise pulumi.RunError(str(error)) from None


@dataclass(frozen=True)
class RolloutGateArgs:
    upstream: str
    """The stack whose `ownedWorkloads` this one may not get ahead of (this project's, or `org/project/stack`)."""
    owned: Mapping[str, str]
    """Workload -> module path, of what this stack owns."""


class RolloutGate(pulumi.ComponentResource):
    """Fails preview and update when this stack would get ahead of `upstream` (a skipped stage)."""

    def __init__(self, name: str, args: RolloutGateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ameide:secrets:RolloutGate", name, None, opts)
        upstream = qualified(args.upstream, pulumi.get_organization(), pulumi.get_project())
        self.reference = pulumi.StackReference(upstream, opts=pulumi.ResourceOptions(parent=self))
        owned = dict(args.owned)
        # The reference's outputs are known at preview time, so the check fails `pulumi preview`.
        self.checked = self.reference.get_output("ownedWorkloads").apply(lambda deployed: _enforced(owned, upstream, deployed))
        self.register_outputs({"upstream": upstream, "checked": self.checked})
