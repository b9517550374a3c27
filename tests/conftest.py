"""Shared fixtures. The Pulumi mock monitor is process-global: each test that runs Pulumi code
gets its own run through the `pulumi_run` fixture, never a monitor set up at import time."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ameide_secrets.declare.contract import ExternalSecretSpec, WorkloadSecretsArgs
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.offline import harness
from ameide_secrets.offline.crd_schema import CrdSchemas, crds_dir
from ameide_secrets.project import REPOSITORY

from helpers import PROJECT_FILES, config_for, run_program, settings_for


@pytest.fixture(scope="session")
def crds() -> CrdSchemas:
    """ESO v2.9 CRD validators, compiled once for the session."""
    return CrdSchemas(crds_dir(REPOSITORY))


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
        return harness.run(stack, config_for(stack) if config is None else config, program)

    return run


# What the temporary trees' access registry grants every team folder, unless a test writes its own.
TEST_NAMESPACES = ["ameide", "growth", "monitoring"]


@pytest.fixture
def write_registry(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write `platform/tenants.yaml` of the temporary tree; from then on `write_module` leaves it alone."""

    def write(document: dict[str, Any]) -> Path:
        path = tmp_path / "platform" / "tenants.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(document))
        (tmp_path / "platform" / ".written-by-test").touch()
        return path

    return write


def _workloads_of(team: Path) -> set[str]:
    """The workloads a team folder's modules are named after (`agents_runtime.py` -> `agents-runtime`) or
    declare (`workload="…"`), so a test of another rule is not also refused an ungranted name."""
    modules = [path for path in team.iterdir() if path.suffix == ".py" and path.is_file()]
    declared = {name for path in modules for name in re.findall(r"""workload\s*=\s*["']([^"']+)["']""", path.read_text())}
    return declared | {path.stem.replace("_", "-") for path in modules}


@pytest.fixture
def write_module(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a team module into the `workloads/` tree of a temporary project (this repository's settings and
    program, no team module of its own); returns that tree (`Project(tree.parent)` reads it).

    Unless the test wrote its own registry, every team folder is granted TEST_NAMESPACES and the workloads its
    modules are named after, so tests of other rules are not refused by tenancy (rules/test_tenancy.py tests that).
    """
    workloads = tmp_path / "workloads"
    workloads.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(REPOSITORY / name, tmp_path / name)

    def write(relative: str, source: str) -> Path:
        path = workloads / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        if not (tmp_path / "platform" / ".written-by-test").exists():
            teams = {
                team.name: {"namespaces": TEST_NAMESPACES, "workloads": sorted(_workloads_of(team))}
                for team in sorted(workloads.iterdir())
                if team.is_dir()
            }
            (tmp_path / "platform").mkdir(exist_ok=True)
            (tmp_path / "platform" / "tenants.yaml").write_text(yaml.safe_dump({"teams": teams, "legacy": {}}))
        return workloads

    return write


@pytest.fixture(scope="session")
def run_stack() -> Callable[..., harness.RunResult]:
    """The whole program for a real stack of this repository, with `config` overrides (aliases): `run_program`.

    Runs are deterministic, so one run per distinct input serves every test of the session: treat the
    result as read-only. Projects in temporary trees run `run_program` themselves.
    """
    runs: dict[tuple[object, ...], harness.RunResult] = {}

    def run(stack: str, upstream_owned: list[str] | None = None, **config: str) -> harness.RunResult:
        key = (stack, None if upstream_owned is None else tuple(upstream_owned), tuple(sorted(config.items())))
        if key not in runs:
            runs[key] = run_program(stack, upstream_owned=upstream_owned, overrides=config)
        return runs[key]

    return run
