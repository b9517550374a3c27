"""Shared fixtures. The Pulumi mock monitor is process-global: each test that runs Pulumi code
gets its own run through the `pulumi_run` fixture, never a monitor set up at import time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import inventory
from components.rollout_gate import qualified
from components.settings import PROJECT, StackSettings, stack_config
from components.spec import ExternalSecretSpec, WorkloadSecretsArgs
from tools import harness
from tools.crd_schema import CrdSchemas

STACKS = ["local", "staging", "production"]


@pytest.fixture(scope="session")
def crds() -> CrdSchemas:
    """ESO v2.9 CRD validators, compiled once for the session."""
    return CrdSchemas()


def settings_for(stack: str, **overrides: str) -> StackSettings:
    """A real stack's settings, optionally with config keys (aliases) overridden."""
    if not overrides:
        return StackSettings.for_stack(stack)
    values = {
        key.removeprefix(f"{PROJECT}:"): value for key, value in stack_config(stack).items() if key.startswith(f"{PROJECT}:")
    }
    return StackSettings.from_config({**values, **overrides}, stack)


_stack_runs: dict[tuple[object, ...], harness.RunResult] = {}


def run_stack(stack: str, upstream_owned: list[str] | None = None, **config: str) -> harness.RunResult:
    """The whole program for a real stack, with `config` overrides (aliases). A rollout gate reads
    `upstream_owned`, by default what the upstream stack owns at this revision.

    Runs are deterministic, so one run per distinct input serves every test: treat the result as
    read-only. The workloads directory is part of the key (tests point it at their own trees).
    """
    key = (
        stack,
        None if upstream_owned is None else tuple(upstream_owned),
        tuple(sorted(config.items())),
        inventory.WORKLOADS_DIR,
    )
    if key not in _stack_runs:
        values = stack_config(stack)
        values.update({f"{PROJECT}:{name}": value for name, value in config.items()})
        upstream = qualified(values[f"{PROJECT}:rolloutGateStack"], harness.ORGANIZATION, PROJECT)
        if upstream_owned is None and values[f"{PROJECT}:rolloutGate"] == "true":
            upstream_owned = run_stack(upstream.rsplit("/", 1)[-1]).outputs["ownedWorkloads"]
        outputs = {} if upstream_owned is None else {upstream: {"ownedWorkloads": upstream_owned}}
        _stack_runs[key] = harness.run_main(stack, values, outputs)
    return _stack_runs[key]


@pytest.fixture
def staging_settings() -> StackSettings:
    return settings_for("staging")


@pytest.fixture
def make_workload() -> Callable[..., WorkloadSecretsArgs]:
    """A valid workload declaration; keyword arguments override its fields."""

    def make(**fields: Any) -> WorkloadSecretsArgs:
        values: dict[str, Any] = {
            "workload": "plausible",
            "team": "analytics",
            "namespace": "ameide",
            "rollout": "production",
            "external_secrets": [
                ExternalSecretSpec(name="plausible-secrets", data={"SECRET_KEY_BASE": "plausible/secret-key-base"})
            ],
        }
        values.update(fields)
        return WorkloadSecretsArgs(**values)

    return make


@pytest.fixture
def pulumi_run() -> Callable[..., harness.RunResult]:
    """Run a Pulumi program (a callable) under a fresh recording mock monitor for this test."""

    def run(program: Callable[[], Any], stack: str = "staging", config: dict[str, str] | None = None) -> harness.RunResult:
        return harness.run(stack, stack_config(stack) if config is None else config, program)

    return run


@pytest.fixture
def write_module(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a team module into a temporary `workloads/` tree; returns that tree."""
    workloads = tmp_path / "workloads"
    workloads.mkdir()

    def write(relative: str, source: str) -> Path:
        path = workloads / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        return workloads

    return write


def store_manifest(namespaces: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    """The platform ClusterSecretStore as a plain manifest, admitting `namespaces` (default: ameide)."""
    body: dict[str, Any] = {
        "provider": {"vault": {"server": "https://vault:8200"}},
        "conditions": [{"namespaces": namespaces or ["ameide"]}],
    }
    body.update(spec)
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "ameide-vault"},
        "spec": body,
    }


def external_secret_manifest(namespace: str | None = "ameide") -> dict[str, Any]:
    """A valid ExternalSecret of workload plausible as a plain manifest, as components/manifests.py renders one."""
    metadata: dict[str, Any] = {
        "name": "plausible-secrets",
        "labels": {"ameide.io/workload": "plausible", "ameide.io/team": "analytics", "app.kubernetes.io/managed-by": "pulumi"},
        "annotations": {"ameide.io/key-prefix": "plausible/"},
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": metadata,
        "spec": {
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "ameide-vault"},
            "target": {"name": "plausible-secrets", "creationPolicy": "Owner", "deletionPolicy": "Retain"},
            "data": [
                {"secretKey": "SECRET_KEY_BASE", "remoteRef": {"key": "plausible/secret-key-base"}},
                {"secretKey": "DATABASE_URL", "remoteRef": {"key": "plausible/database", "property": "url"}},
            ],
        },
    }
