"""RolloutGate on its own: a stack may not own what the deployed upstream stack does not."""

from __future__ import annotations

import pulumi
import pytest

from ameide_secrets.offline import harness
from ameide_secrets.rules.gate import RolloutGateError, enforce, qualified, skipped
from components.rollout_gate import RolloutGate, RolloutGateArgs

UPSTREAM = "organization/ameide-secrets/staging"
OWNED = {"graph": "workloads/core/graph.py", "keycloak": "workloads/identity/keycloak.py", "threads": "workloads/core/threads.py"}


def test_qualified_when_bare_stack_name_then_this_organization_and_project() -> None:
    assert qualified("staging", "ameide", "ameide-secrets") == "ameide/ameide-secrets/staging"
    assert qualified("other-org/other/staging", "ameide", "ameide-secrets") == "other-org/other/staging"


def test_skipped_when_upstream_owns_everything_then_nothing() -> None:
    assert skipped(OWNED, UPSTREAM, ["graph", "keycloak", "threads", "www"]) == []


def test_skipped_when_workloads_missing_upstream_then_one_message_each_naming_module() -> None:
    assert skipped(OWNED, UPSTREAM, ["graph"]) == [
        f"workload 'keycloak' (workloads/identity/keycloak.py) is not owned by the deployed stack {UPSTREAM}: "
        "promote it there first (set rollout to that stack's environment, merge and pulumi up), then here",
        f"workload 'threads' (workloads/core/threads.py) is not owned by the deployed stack {UPSTREAM}: "
        "promote it there first (set rollout to that stack's environment, merge and pulumi up), then here",
    ]


@pytest.mark.parametrize("deployed", [None, {}, "graph"])
def test_skipped_when_upstream_exports_no_list_then_deploy_it_first(deployed: object) -> None:
    assert skipped(OWNED, UPSTREAM, deployed) == [
        f"stack {UPSTREAM} exports no ownedWorkloads: deploy it first (pulumi up -s {UPSTREAM})"
    ]


def test_enforce_when_stage_skipped_then_one_error_line_per_workload() -> None:
    with pytest.raises(RolloutGateError) as caught:
        enforce(OWNED, UPSTREAM, ["graph"])
    assert [line.split(" (")[0] for line in str(caught.value).splitlines()] == [
        "rollout gate: workload 'keycloak'",
        "rollout gate: workload 'threads'",
    ]


def test_gate_when_upstream_behind_then_preview_fails_naming_workload() -> None:
    def program() -> None:
        RolloutGate("rollout-gate", RolloutGateArgs(upstream="staging", owned=OWNED))

    # A RunError: Pulumi prints it without a traceback.
    with pytest.raises(pulumi.RunError, match=r"workload 'keycloak' \(workloads/identity/keycloak.py\)"):
        harness.run("production", {}, program, stack_outputs={UPSTREAM: {"ownedWorkloads": ["graph", "threads"]}})


def test_gate_when_upstream_caught_up_then_reads_qualified_stack_and_outputs_what_it_checked() -> None:
    result = harness.run(
        "production",
        {},
        lambda: RolloutGate("rollout-gate", RolloutGateArgs(upstream="staging", owned=OWNED)),
        stack_outputs={UPSTREAM: {"ownedWorkloads": ["graph", "keycloak", "threads"]}},
    )
    [gate] = result.by_type("ameide:secrets:RolloutGate")
    [reference] = result.by_type("pulumi:pulumi:StackReference")
    assert reference.name == UPSTREAM
    assert result.component_outputs[gate.urn] == {"upstream": UPSTREAM, "checked": ["graph", "keycloak", "threads"]}
