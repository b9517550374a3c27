"""Every use of the Pulumi SDK's private or internal API, in one place (tests/test_pulumi_internals.py).

The offline harness needs these things the SDK does not publish. Each test in
tests/test_pulumi_internals.py fails loudly, naming what moved, when the pinned SDK changes one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _ensure_event_loop


def event_loop() -> asyncio.AbstractEventLoop:
    """The event loop of this thread, created if it has none (what the SDK does for its own threads)."""
    loop: asyncio.AbstractEventLoop = _ensure_event_loop()
    return loop


@contextlib.contextmanager
def without_source_positions() -> Iterator[None]:
    """Registrations carry an empty stack trace: the SDK otherwise walks and formats the Python stack each time."""
    stack_trace = runtime_resource._get_stack_trace
    runtime_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        runtime_resource._get_stack_trace = stack_trace


def reset_root_resource() -> None:
    """Forget the previous run's stack resource: each mock run is a fresh program."""
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]


def root_resource() -> Any:
    """The current program's stack resource (its `outputs` are what the program exported)."""
    return runtime_settings.get_root_resource()
