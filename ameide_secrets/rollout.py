"""The rollout matrix: which workloads still rely on the centralized manifest, per environment.

`owned`: this program owns the workload's secrets in that environment (its stack renders them);
`legacy`: the central bundle still serves them there (the registry lists one of its ExternalSecrets
under `legacy`); `not served`: neither does (a new workload not rolled out that far yet).
`ameide-secrets rollout` prints it, `make rollout` rewrites docs/rollout.md. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ameide_secrets.declare import inventory
from ameide_secrets.declare.contract import Environment
from ameide_secrets.declare.inventory import DeclaredWorkload
from ameide_secrets.rules.tenancy import Registry

OWNED = "owned"
LEGACY = "legacy"
NOT_SERVED = "not served"

_INTRO = """\
# Rollout matrix

Which workloads still rely on the centralized manifest (the legacy `vault-secrets` bundle), per
environment:

- `owned`: this program owns the workload's secrets there (the stack renders its ExternalSecrets);
- `legacy`: the central bundle still serves them there (`platform/tenants.yaml` lists one of its
  ExternalSecrets under `legacy`, to be adopted when the workload is promoted there);
- `not served`: neither does: a workload the bundle never held (or no longer holds), not rolled out
  that far yet.

A workload is owned up to its `rollout` (`local` < `staging` < `production`), so promoting it is a
one-line PR in its module. Generated from `workloads/` by `make rollout`
(`ameide-secrets rollout --format markdown`); a test fails when this file is stale.
"""


@dataclass(frozen=True)
class Row:
    """One workload and who serves its secrets in each environment."""

    workload: str
    team: str
    namespace: str
    module: str
    environments: dict[str, str]


def matrix(declared: Sequence[DeclaredWorkload], registry: Registry) -> list[Row]:
    """One row per declared workload, in `inventory.discover` order (by team folder, then module); where a
    stack does not own it, `legacy` if the registry says the central bundle holds one of its objects."""
    owned = {env: {d.args.workload for d in inventory.owned(declared, env)} for env in Environment}

    def elsewhere(d: DeclaredWorkload) -> str:
        held = any(f"{d.args.namespace}/{spec.name}" in registry.legacy for spec in d.args.external_secrets)
        return LEGACY if held else NOT_SERVED

    return [
        Row(
            workload=d.args.workload,
            team=d.args.team,
            namespace=d.args.namespace,
            module=d.module,
            environments={env.value: OWNED if d.args.workload in owned[env] else elsewhere(d) for env in Environment},
        )
        for d in declared
    ]


def render_markdown(rows: list[Row]) -> str:
    """docs/rollout.md: what the states mean, the table, and how many workloads are still legacy."""
    environments = [env.value for env in Environment]
    lines = [
        _INTRO,
        "| workload | team | namespace | " + " | ".join(environments) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in environments) + " |",
    ]
    lines += [
        f"| {r.workload} | {r.team} | {r.namespace} | " + " | ".join(r.environments[env] for env in environments) + " |"
        for r in rows
    ]
    lines.append("")
    for env in environments:
        legacy = sum(r.environments[env] == LEGACY for r in rows)
        unserved = sum(r.environments[env] == NOT_SERVED for r in rows)
        tail = f", {unserved} not served there yet" if unserved else ""
        lines.append(f"- {env}: {legacy} of {len(rows)} workloads still on the central bundle{tail}")
    return "\n".join(lines) + "\n"


def render_json(rows: list[Row]) -> str:
    """The matrix as a JSON list, one object per workload."""
    return json.dumps([asdict(r) for r in rows], indent=2)
