"""Run Pulumi code under the SDK's mock monitor and record every registration with its options.

Used by the offline preview and by the tests. The mock monitor is process-global: call
`run()` once per program run; it installs a fresh monitor each time.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc, settings as runtime_settings
from pulumi.runtime.sync_await import _ensure_event_loop

PROJECT = "ameide-secrets"
ROOT = Path(__file__).resolve().parent.parent


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

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


class _Mocks(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # Custom resources get their name as id; their state echoes their inputs.
        return (f"{args.name}-id" if args.custom else ""), dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that also keeps the resource options the engine would receive."""

    def __init__(self) -> None:
        super().__init__(_Mocks())
        self.registrations: list[Registration] = []
        self.component_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=bool(request.custom),
                    inputs=self.resources[response.urn].state,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    depends_on=list(request.dependencies),
                    provider=request.provider,
                    aliases=[str(a) for a in request.aliases],
                    import_id=request.importId,
                )
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        _ensure_event_loop()  # deserializing needs a loop on this gRPC thread, as in MockMonitor
        self.component_outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def run(stack: str, config: dict[str, str], program: Callable[[], Any], preview: bool = True) -> RunResult:
    """Run `program` as stack `stack` with fully qualified string `config`, under mocks."""
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    monitor = RecordingMonitor()
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(config)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[misc]
    def _program() -> Any:
        program()
        root = runtime_settings.get_root_resource()
        exported = getattr(root, "outputs", {})
        return pulumi.Output.all(**exported).apply(outputs.update) if exported else None

    _program()
    return RunResult(stack, monitor.registrations, outputs, monitor.component_outputs)


def run_main(stack: str, config: dict[str, str], main: Path = ROOT / "__main__.py") -> RunResult:
    """Run the whole program (`__main__.py`) under mocks."""
    return run(stack, config, lambda: runpy.run_path(str(main), run_name="__main__"))
