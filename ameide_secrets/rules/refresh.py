"""How often an ExternalSecret may make ESO read Vault: never more often than the platform's floor.

ESO re-reads Vault every `refreshInterval` for every ExternalSecret, on one shared controller and one
shared Vault: `1ns` from one team is a hot loop for every tenant. The floor is the stack setting
`refreshIntervalFloor`; `0` (ESO's "read once, never refresh") is not a loop and stays allowed. Every
layer asks this module: the stack's declaration check, the guardrails over manifests, and the
admission policy, whose CEL is generated here (`cel_below_floor`).
"""

from __future__ import annotations

import json
import re

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
NO_REFRESH = "0"


def seconds(duration: str) -> float:
    """A Go duration (`1h30m`, `15m`, `0.5s`, `0`) in seconds; ValueError for anything else."""
    if duration == NO_REFRESH:
        return 0.0
    parts = _PART.findall(duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"{duration!r} is not a Go duration")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def below_floor_problem(interval: str, floor: str) -> str | None:
    """Why `interval` makes ESO read Vault more often than `floor` allows, or None."""
    if interval == NO_REFRESH or seconds(interval) >= seconds(floor):
        return None
    return (
        f"refresh interval {interval!r} is below the platform's floor {floor!r}: ESO would re-read Vault that often for "
        f"every tenant (use {floor} or more, or {NO_REFRESH!r} to read once)"
    )


def cel_below_floor(floor: str) -> str:
    """CEL: the object's `spec.refreshInterval` is set, not `0`, and shorter than `floor` (Kubernetes CEL `duration`)."""
    return (
        "has(object.spec) && has(object.spec.refreshInterval) && "
        f"object.spec.refreshInterval != {json.dumps(NO_REFRESH)} && "
        f"duration(object.spec.refreshInterval) < duration({json.dumps(floor)})"
    )
