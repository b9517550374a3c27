"""Run Pulumi code under the SDK's mock monitor and record every registration with its options.

Used by the offline preview and by the tests. The mock monitor is process-global: call
`run()` once per program run; it installs a fresh monitor each time.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import runpy
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc

from ameide_secrets.declare.settings import PROJECT
from ameide_secrets.offline import pulumi_internals
from ameide_secrets.rules.gate import DEFAULT_ORGANIZATION

# What the Pulumi CLI reports for a self-managed backend; StackReferences resolve against it.
ORGANIZATION = DEFAULT_ORGANIZATION


@dataclass
class Registration:
    """One resource registration as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    depends_on: list[str]
    provider: str
    aliases: list[Any]
    import_id: str


@dataclass
class RunResult:
    """Everything a program registered, in registration order, and its stack outputs."""

    stack: str
    resources: list[Registration]
    outputs: dict[str, Any]
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]


class _Mocks(mocks.Mocks):
    def __init__(self, stack_outputs: dict[str, dict[str, Any]]) -> None:
        self.stack_outputs = stack_outputs
        self._seen = threading.local()

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # The monitor calls this on the thread that registers the resource, which records them next.
        self._seen.inputs = args.inputs
        if args.typ == "pulumi:pulumi:StackReference":
            # What `pulumi preview` would read from the backend for that stack (nothing if unknown).
            name = args.inputs["name"]
            return name, {"name": name, "outputs": self.stack_outputs.get(name, {}), "secretOutputNames": []}
        # Custom resources get their name as id; their state echoes their inputs, as a provider's
        # preview does (Vault's auth backend `path` is read by its config). Kubernetes objects are the
        # exception: nothing reads their outputs, and echoing thousands of manifests back would serialise
        # and deserialise each of them again.
        if args.typ.startswith("kubernetes:"):
            return (f"{args.name}-id" if args.custom else ""), {}
        return (f"{args.name}-id" if args.custom else ""), dict(args.inputs)

    def last_inputs(self) -> dict[str, Any]:
        """The inputs of the resource this thread registered last."""
        inputs: dict[str, Any] = self._seen.inputs
        return inputs

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


UNKNOWN = "[unknown]"
"""How a value only the provider computes (an id, Vault's mount accessor) reads in a preview."""


def _known(value: Any) -> Any:
    """`value` with every unknown replaced by UNKNOWN: previews are printed and compared as JSON."""
    if isinstance(value, dict):
        return {key: _known(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_known(item) for item in value]
    return UNKNOWN if isinstance(value, pulumi.output.Unknown) else value


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that also keeps the resource options the engine would receive."""

    def __init__(self, stack_outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self._mocks = _Mocks(stack_outputs or {})
        super().__init__(self._mocks)
        self.registrations: list[Registration] = []
        self.component_outputs: dict[str, dict[str, Any]] = {}

    def _record(self, request: Any, urn: str, custom: bool, protect: bool = False, retain: bool = False) -> None:
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=urn,
                parent=request.parent,
                custom=custom,
                inputs=_known(self._mocks.last_inputs()),
                protect=protect,
                retain_on_delete=retain,
                depends_on=list(request.dependencies),
                provider=request.provider,
                aliases=[str(a) for a in getattr(request, "aliases", [])],
                import_id=getattr(request, "importId", ""),
            )
        )

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        _loops.add(pulumi_internals.event_loop())
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, response.urn, bool(request.custom), bool(request.protect), bool(request.retainOnDelete))
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        # StackReferences are read, not registered: record them so previews show the gate's input.
        response = super().ReadResource(request)
        self._record(request, response.urn, custom=True)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        pulumi_internals.event_loop()  # deserializing needs a loop on this gRPC thread, as in MockMonitor
        self.component_outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


# Pulumi's mock monitor leaves an event loop in every thread it ran in. Left to the interpreter's
# final garbage collection they sometimes fail to close ("Exception ignored ... Invalid file
# descriptor"); closing them at exit, while the runtime is intact, keeps the output clean.
_loops: set[asyncio.AbstractEventLoop] = set()


@atexit.register
def _close_loops() -> None:
    for loop in _loops:
        if not loop.is_running() and not loop.is_closed():
            loop.close()


@contextlib.contextmanager
def _lean_runtime(one_shot: bool) -> Iterator[None]:
    """Skip work the offline run does not need; measured in lab/bench.py (docs/performance.md).

    - The cyclic garbage collector: a run allocates hundreds of thousands of short-lived objects
      (Outputs, protobuf Structs) that reference counting frees anyway, and each collection walks
      all live ones again, so its cost grew faster than the stack. One collection at the end, or,
      in a process that ends after this run (`one_shot`), none: the heap is frozen instead, so no
      later allocation triggers that collection either, and the exit frees it all.
    - Source positions: the SDK walks and formats the Python stack on every registration for the
      engine's diagnostics; the mock monitor ignores them.
    """
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        with pulumi_internals.without_source_positions():
            yield
    finally:
        if one_shot:
            gc.freeze()
        else:
            gc.collect()
        if gc_enabled:
            gc.enable()


def run(
    stack: str,
    config: dict[str, str],
    program: Callable[[], Any],
    preview: bool = True,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
    one_shot: bool = False,
) -> RunResult:
    """Run `program` as stack `stack` with fully qualified string `config`, under mocks.

    `stack_outputs` maps a fully qualified stack name to the outputs a StackReference reads;
    `one_shot`: the process ends soon after this run (the CLI), so its garbage is never collected.
    """
    pulumi_internals.reset_root_resource()
    monitor = RecordingMonitor(stack_outputs)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, organization=ORGANIZATION
    )
    pulumi.runtime.set_all_config(config)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def _program() -> Any:
        program()
        root = pulumi_internals.root_resource()
        exported = getattr(root, "outputs", {})
        return pulumi.Output.all(**exported).apply(outputs.update) if exported else None

    with _lean_runtime(one_shot):
        _program()
    _loops.add(pulumi_internals.event_loop())
    return RunResult(stack, monitor.registrations, outputs, monitor.component_outputs)


def run_main(
    main: Path,
    stack: str,
    config: dict[str, str],
    stack_outputs: dict[str, dict[str, Any]] | None = None,
    one_shot: bool = False,
) -> RunResult:
    """Run the whole program (a project's `__main__.py`) under mocks, as stack `stack` with `config`.

    The program's folder comes first on sys.path, as the Pulumi language host puts it: `__main__.py`
    imports `components` from beside it, whichever directory the command line was started in."""

    def program() -> None:
        folder = str(main.resolve().parent)
        sys.path.insert(0, folder)
        try:
            runpy.run_path(str(main), run_name="__main__")
        finally:
            sys.path.remove(folder)

    return run(stack, config, program, stack_outputs=stack_outputs, one_shot=one_shot)
