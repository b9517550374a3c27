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
