"""tools/pulumi_internals.py: the SDK internals the harness relies on still exist and behave (pinned pulumi)."""

from __future__ import annotations

import asyncio

import pulumi
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime.proto import source_pb2

from ameide_secrets.offline import harness, pulumi_internals


def test_event_loop_when_called_then_the_same_running_loop_of_this_thread() -> None:
    loop = pulumi_internals.event_loop()
    assert isinstance(loop, asyncio.AbstractEventLoop)
    assert pulumi_internals.event_loop() is loop


def test_without_source_positions_when_active_then_sdk_trace_is_empty_and_restored_after() -> None:
    original = runtime_resource._get_stack_trace
    with pulumi_internals.without_source_positions():
        assert runtime_resource._get_stack_trace() == source_pb2.StackTrace()
    assert runtime_resource._get_stack_trace is original


def test_root_resource_when_program_exports_then_outputs_are_read_from_it() -> None:
    result = harness.run("local", {}, lambda: pulumi.export("answer", 42))
    assert result.outputs == {"answer": 42}
    pulumi_internals.reset_root_resource()
    assert pulumi_internals.root_resource() is None
