"""tools/harness.py: what a mock run records, what resource outputs a program sees, and its garbage."""

from __future__ import annotations

import gc
from typing import Any

import pulumi
import pytest

from ameide_secrets.offline import harness


@pytest.mark.parametrize(
    ("type_", "seen_by_program"),
    [
        pytest.param("vault:index/thing:Thing", [42], id="echoed-like-a-provider-preview"),
        pytest.param("kubernetes:v1:ConfigMap", [], id="kubernetes-outputs-unknown"),
    ],
)
def test_run_when_resource_registered_then_inputs_recorded_and_outputs_as_a_preview_knows_them(
    type_: str, seen_by_program: list[Any]
) -> None:
    seen: list[Any] = []

    def program() -> None:
        thing = pulumi.CustomResource(type_, "thing", {"answer": 42})
        thing.answer.apply(seen.append)  # type: ignore[attr-defined]

    [registered] = harness.run("local", {}, program).resources
    assert (registered.type, registered.inputs) == (type_, {"answer": 42})
    assert seen == seen_by_program


@pytest.mark.parametrize(("one_shot", "frozen"), [(False, False), (True, True)])
def test_run_when_one_shot_then_heap_frozen_instead_of_collected(one_shot: bool, frozen: bool) -> None:
    before = gc.get_freeze_count()
    try:
        harness.run("local", {}, lambda: pulumi.CustomResource("test:index:Thing", "thing", {}), one_shot=one_shot)
        assert (gc.get_freeze_count() > before) is frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()


class Loop:
    """An event loop as `_close_loops` sees one: running or not, closed or not."""

    def __init__(self, running: bool, closed: bool) -> None:
        self.running, self.closed, self.close_calls = running, closed, 0

    def is_running(self) -> bool:
        return self.running

    def is_closed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.close_calls += 1
        self.closed = True


def test_close_loops_when_at_exit_then_only_idle_open_loops_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    idle, running, closed = Loop(False, False), Loop(True, False), Loop(False, True)
    monkeypatch.setattr(harness, "_loops", {idle, running, closed})
    harness._close_loops()
    assert (idle.close_calls, running.close_calls, closed.close_calls) == (1, 0, 0)


def test_run_when_custom_and_component_resources_registered_then_only_custom_ones_get_an_id() -> None:
    ids: list[Any] = []

    def program() -> None:
        component = pulumi.ComponentResource("test:index:Group", "group")
        for type_, name in (("test:index:Thing", "thing"), ("kubernetes:v1:ConfigMap", "config")):
            resource = pulumi.CustomResource(type_, name, {}, opts=pulumi.ResourceOptions(parent=component))
            resource.id.apply(ids.append)

    result = harness.run("local", {}, program)
    assert sorted(ids) == ["config-id", "thing-id"]
    assert sorted((r.type, r.custom) for r in result.resources if r.name in {"group", "thing", "config"}) == [
        ("kubernetes:v1:ConfigMap", True),
        ("test:index:Group", False),
        ("test:index:Thing", True),
    ]
