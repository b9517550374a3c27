"""Helpers the tests share (fixtures are in conftest.py): real stack settings and runs, repository
copies, and plain ESO manifests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ameide_secrets.declare import inventory
from ameide_secrets.declare.contract import WorkloadSecretsArgs
from ameide_secrets.declare.inventory import DeclaredWorkload, Grant
from ameide_secrets.declare.settings import PROJECT, StackSettings
from ameide_secrets.offline import harness
from ameide_secrets.project import REPOSITORY, Project, Stack
from ameide_secrets.render.objects import StackObject, stack_objects
from ameide_secrets.render.vault_plan import VaultPlan
from ameide_secrets.rules import tenancy
from ameide_secrets.rules.gate import qualified
from ameide_secrets.rules.targets import MERGING

STACKS = ["local", "staging", "production"]
# What a project holds beside its team modules and registry: its settings and its program.
PROJECT_FILES = ["Pulumi.yaml", *(f"Pulumi.{stack}.yaml" for stack in STACKS), "__main__.py"]


def config_for(stack: str, **overrides: str) -> dict[str, str]:
    """A real stack's config as the CLI passes it (defaults overlaid), with config keys (aliases) overridden."""
    return overridden(Project().config(stack), overrides)


def overridden(config: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """`config` with config keys given by alias (`authMode`) replaced."""
    return {**config, **{f"{PROJECT}:{key}": value for key, value in overrides.items()}}


def stack_for(stack: str, **overrides: str) -> Stack:
    """A real stack of this repository, optionally with config keys (aliases) overridden."""
    return Project().stack(stack, config=config_for(stack, **overrides))


def settings_for(stack: str, **overrides: str) -> StackSettings:
    """A real stack's settings, optionally with config keys (aliases) overridden."""
    return stack_for(stack, **overrides).settings


def discover(workloads: Path | None = None) -> list[DeclaredWorkload]:
    """The team modules of the project whose `workloads/` folder is `workloads` (default: this repository's)."""
    return list(Project(workloads.parent if workloads else REPOSITORY).declared)


def registry(workloads: Path | None = None) -> tenancy.Registry:
    """The access registry of the project whose `workloads/` folder is `workloads` (default: this repository's)."""
    return Project(workloads.parent if workloads else REPOSITORY).registry


def granting(declared: list[DeclaredWorkload]) -> tenancy.Registry:
    """A registry granting exactly what `declared` declares (for declarations built without a project)."""
    teams: dict[str, tenancy.TeamGrant] = {}
    for d in declared:
        team = Path(d.module).parent.name
        grant = teams.get(team, tenancy.TeamGrant())
        own = d.args.prefix == f"{d.args.workload}/"
        merging = [
            f"{d.args.namespace}/{spec.target_name}" for spec in d.args.external_secrets if spec.creation_policy in MERGING
        ]
        teams[team] = tenancy.TeamGrant(
            namespaces=(*grant.namespaces, d.args.namespace),
            workloads=(*grant.workloads, d.args.workload),
            key_prefixes=grant.key_prefixes if own else (*grant.key_prefixes, d.args.prefix),
            merge_into=(*grant.merge_into, *merging),
        )
    return tenancy.Registry(teams)


def run_program(
    stack: str, root: Path = REPOSITORY, upstream_owned: list[str] | None = None, overrides: Mapping[str, str] | None = None
) -> harness.RunResult:
    """The whole program of the project at `root` for a real stack, with config `overrides` (aliases). A
    rollout gate reads `upstream_owned`, by default what the upstream stack owns there."""
    values = overridden(Project(root).config(stack), overrides or {})
    upstream = qualified(values[f"{PROJECT}:rolloutGateStack"], harness.ORGANIZATION, PROJECT)
    if upstream_owned is None and values[f"{PROJECT}:rolloutGate"] == "true":
        upstream_owned = run_program(upstream.rsplit("/", 1)[-1], root).outputs["ownedWorkloads"]
    outputs = {} if upstream_owned is None else {upstream: {"ownedWorkloads": upstream_owned}}
    return harness.run_main(root / "__main__.py", stack, values, outputs)


def project_tree(tmp_path: Path, workloads: bool = True) -> Path:
    """A project at `tmp_path`: this repository's settings, program and access registry, and (with
    `workloads`) its team modules; returns its root."""
    for name in PROJECT_FILES:
        shutil.copy2(REPOSITORY / name, tmp_path / name)
    shutil.copytree(REPOSITORY / "platform", tmp_path / "platform", dirs_exist_ok=True)
    if workloads:
        shutil.copytree(REPOSITORY / "workloads", tmp_path / "workloads", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def grant(tmp_path: Path, team: str, namespaces: list[str], workloads: list[str], key_prefixes: list[str] | None = None) -> None:
    """Add `team`'s entry to the access registry of the tree under `tmp_path`."""
    path = tmp_path / "platform" / "tenants.yaml"
    document = yaml.safe_load(path.read_text())
    document["teams"][team] = {"namespaces": namespaces, "workloads": workloads, "key_prefixes": key_prefixes or []}
    path.write_text(yaml.safe_dump(document))


def grant_workload(root: Path, team: str, workload: str, namespace: str | None = None) -> None:
    """The platform's review of a new module: grant `workload` (and `namespace`, if given) to `team` in the
    access registry of the project at `root`."""
    path = root / tenancy.REGISTRY_PATH
    document = yaml.safe_load(path.read_text())
    entry = document["teams"][team]
    entry["workloads"] = [*entry.get("workloads", []), workload]
    if namespace is not None and namespace not in entry["namespaces"]:
        entry["namespaces"].append(namespace)
    # Flow-style lists, as the committed file writes them: a docs recipe editing one still finds it.
    path.write_text(yaml.safe_dump(document, default_flow_style=None))


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


def platform_objects(settings: StackSettings, namespaces: list[str], grants: list[Grant]) -> list[StackObject]:
    """The platform's objects of a stack with `settings` admitting `namespaces` with `grants` (no workload's)."""
    return stack_objects(settings, [], namespaces, grants)


def workload_objects(args: WorkloadSecretsArgs, settings: StackSettings, module: str = "workloads/x/y.py") -> list[StackObject]:
    """One workload's ExternalSecrets as a stack with `settings` renders them."""
    declared = [DeclaredWorkload(args, module)]
    objects = stack_objects(settings, declared, [args.namespace], inventory.grants(declared, granting(declared)))
    return [o for o in objects if o.workload == args.workload]


def doc_block(path: str, heading: str) -> str:
    """The first sh block under `heading` in the document at `path` (relative to the repository), up to the
    next heading of its level or above."""
    after = (REPOSITORY / path).read_text().split(heading, 1)[1]
    level = len(heading.split(" ", 1)[0])
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    # Only prose comes before the block: a `#` line inside it is a shell comment, not a heading.
    assert match, f"{path}: no sh block under {heading!r}"
    assert not re.search(rf"\n#{{1,{level}}} ", after[: match.start()]), f"{path}: no sh block under {heading!r}"
    return match.group(1)


def state_resource(urn: str, type_: str, **fields: Any) -> dict[str, Any]:
    """One resource of a `pulumi stack export` document (only what recovery reads)."""
    return {"urn": urn, "type": type_, "custom": True, "inputs": {"metadata": {"name": urn.rsplit("/", 1)[-1]}}, **fields}


def stack_export(pending: list[tuple[str, str, str]], resources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A `pulumi stack export` document of the staging stack: (urn, type, operation) per pending operation,
    beside `resources` (default: the kubernetes provider alone)."""
    provider = state_resource(
        "urn:pulumi:staging::ameide-secrets::pulumi:providers:kubernetes::kubernetes", "pulumi:providers:kubernetes"
    )
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-12-04T01:00:00Z", "magic": "", "version": "v3.274.1"},
            "resources": resources if resources is not None else [provider],
            "pending_operations": [{"resource": state_resource(urn, type_), "type": op} for urn, type_, op in pending],
        },
    }


def read_module_bounded(source: str, memory: int = 1 << 30, timeout: float = 60) -> list[tuple[int | None, str]]:
    """The line problems of `team_module.read(source)` (the module must be refused), read in a child process
    of at most `memory` bytes of address space: a reader whose bound is gone fails there, fast, with a
    MemoryError, instead of exhausting the machine."""
    script = (
        "import json, resource, sys\n"
        "from ameide_secrets.declare import team_module\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        "data = team_module.read(sys.stdin.read(), 'm.py')\n"
        "print(json.dumps(None if data.workload else [[p.line, p.message] for p in data.line_problems]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        input=source,
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, f"the reader failed within {memory} bytes: {completed.stderr[-1000:]}"
    problems = json.loads(completed.stdout)
    assert problems is not None, "the module was accepted"
    return [(line, message) for line, message in problems]


class HeldVault:
    """Vault's configuration paths as it answers them (`configuration`): a path not held answers 404, one in
    `refused` 403."""

    def __init__(self, held: dict[str, dict[str, Any]], refused: frozenset[str] = frozenset()) -> None:
        self.held, self.refused = held, refused

    def configuration(self, path: str) -> tuple[int, dict[str, Any]]:
        if path in self.refused:
            return 403, {}
        return (200, self.held[path]) if path in self.held else (404, {})


def held_login(plan: VaultPlan) -> dict[str, dict[str, Any]]:
    """ESO's login as Vault answers once `plan` is applied: lists in Vault's own order, and the fields Vault
    adds beside the declared ones."""

    def reordered(settings: dict[str, Any]) -> dict[str, Any]:
        return {name: list(reversed(value)) if isinstance(value, list) else value for name, value in settings.items()}

    auth = f"auth/{plan.auth_mount}"
    held = {
        f"{auth}/config": {**reordered(plan.auth_config), "disable_local_ca_jwt": True, "token_reviewer_jwt_set": False},
        f"{auth}/role/{plan.role_name}": {**reordered(plan.role), "token_type": "default", "token_bound_cidrs": []},
        **{f"sys/policies/acl/{name}": {"name": name, "policy": hcl} for name, hcl in plan.read_policies.items()},
    }
    for identity in plan.identities:
        alias = {"name": identity.alias, "mount_path": f"{auth}/", "mount_type": "kubernetes"}
        held[f"identity/entity/name/{identity.entity}"] = {
            "name": identity.entity,
            "policies": [identity.policy],
            "aliases": [alias],
        }
    return held
