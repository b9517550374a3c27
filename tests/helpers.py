"""Helpers the tests share (fixtures are in conftest.py): real stack settings and runs, repository
copies, and plain ESO manifests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from declarations import inventory
from declarations.settings import PROJECT, StackSettings, stack_config
from rules.gate import qualified
from tools import harness

STACKS = ["local", "staging", "production"]


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


def copy_repository_tree(tmp_path: Path) -> Path:
    """The repository's `workloads/` and `platform/` (the access registry) under `tmp_path`; returns the workloads tree."""
    shutil.copytree(inventory.WORKLOADS_DIR.parent / "platform", tmp_path / "platform")
    return Path(shutil.copytree(inventory.WORKLOADS_DIR, tmp_path / "workloads", ignore=shutil.ignore_patterns("__pycache__")))


def grant(tmp_path: Path, team: str, namespaces: list[str], key_prefixes: list[str] | None = None) -> None:
    """Add `team`'s entry to the access registry of the tree under `tmp_path`."""
    path = tmp_path / "platform" / "tenants.yaml"
    document = yaml.safe_load(path.read_text())
    document["teams"][team] = {"namespaces": namespaces, "key_prefixes": key_prefixes or []}
    path.write_text(yaml.safe_dump(document))


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
    """A valid ExternalSecret of workload plausible as a plain manifest, as rendering/manifests.py renders one."""
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


def waits_for(result: harness.RunResult, registration: harness.Registration) -> set[str]:
    """Every URN `registration` waits for before it is created: its dependencies, theirs, and so on."""
    by_urn = {r.urn: r for r in result.resources}
    seen: set[str] = set()
    pending = list(registration.depends_on)
    while pending:
        urn = pending.pop()
        if urn not in seen:
            seen.add(urn)
            pending += by_urn[urn].depends_on
    return seen
