"""Pure rules of the rollout gate: a stack may only own workloads the deployed upstream stack owns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ameide_secrets.findings import InputError

DEFAULT_ORGANIZATION = "organization"
"""The organization of a stack on a self-managed (DIY) backend, as Pulumi names it."""


class RolloutGateError(InputError):
    """A promotion skipped a stage; one line per workload."""


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
