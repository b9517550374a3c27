"""RolloutGate on its own: a stack may not own what the deployed upstream stack does not."""

from __future__ import annotations

import pytest

from components.rollout_gate import RolloutGate, RolloutGateError, skipped
from tools import harness

UPSTREAM = "organization/ameide-secrets/staging"


def test_skipped_when_upstream_owns_everything_then_nothing() -> None:
    assert skipped(["graph", "keycloak"], UPSTREAM, ["graph", "keycloak", "threads"]) == []


def test_skipped_when_workloads_missing_upstream_then_one_message_each_sorted() -> None:
    assert skipped(["threads", "graph", "keycloak"], UPSTREAM, ["graph"]) == [
        f"workload 'keycloak' is not owned by the deployed stack {UPSTREAM}: promote it there first "
        "(set rollout to that stack's environment, merge and pulumi up), then here",
        f"workload 'threads' is not owned by the deployed stack {UPSTREAM}: promote it there first "
        "(set rollout to that stack's environment, merge and pulumi up), then here",
    ]


@pytest.mark.parametrize("deployed", [None, {}, "graph"])
def test_skipped_when_upstream_exports_no_list_then_deploy_it_first(deployed: object) -> None:
    assert skipped(["graph"], UPSTREAM, deployed) == [
        f"stack {UPSTREAM} exports no ownedWorkloads: deploy it first (pulumi up -s {UPSTREAM})"
    ]


def test_gate_when_upstream_behind_then_preview_fails_naming_workload() -> None:
    def program() -> None:
        RolloutGate("rollout-gate", upstream=UPSTREAM, owned=["graph", "keycloak"])

    with pytest.raises(RolloutGateError, match="workload 'keycloak'"):
        harness.run("production", {}, program, stack_outputs={UPSTREAM: {"ownedWorkloads": ["graph"]}})


def test_gate_when_upstream_caught_up_then_outputs_what_it_checked() -> None:
    result = harness.run(
        "production",
        {},
        lambda: RolloutGate("rollout-gate", upstream=UPSTREAM, owned=["graph"]),
        stack_outputs={UPSTREAM: {"ownedWorkloads": ["graph", "threads"]}},
    )
    [gate] = result.by_type("ameide:secrets:RolloutGate")
    assert result.component_outputs[gate.urn] == {"upstream": UPSTREAM, "checked": ["graph"]}
