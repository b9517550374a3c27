"""Pure rules of tenancy: who may use which namespace and which Vault paths — each rule in one place.

Every layer that enforces one of these calls it from here: the declaration checks (`declare/contract.py`,
`inventory.py`), the guardrail rules (`policies.py`), the admission CEL (`admission.py`) and the
Vault policy generation (`vault_plan.py`).

- **System namespaces** (`default`, `kube-*`, ESO's) are never a workload's, whatever is granted.
- **Canonical Vault paths**: a key or prefix is plain segments — none empty, `.` or `..` — and
  does not start with `data/` or `metadata/` (KV v2's API paths) or the KV mount's own name. ESO
  and Vault's client normalise such paths (`./keycloak/x`, `secret/keycloak/x`), so a path that
  looks like it is under one prefix could read under another.
- **The access registry** `platform/tenants.yaml` (platform-owned): which namespaces and extra key
  prefixes each team may declare, and which legacy objects a module may adopt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ameide_secrets.vocabulary import YAML_LOADER

SYSTEM_NAMESPACES = frozenset({"default"})
SYSTEM_NAMESPACE_PREFIX = "kube-"
KV_API_SEGMENTS = ("data", "metadata")
"""First segments that are KV v2's API paths, not keys: `secret/data/x` is key `x`."""

REGISTRY_PATH = "platform/tenants.yaml"


def system_namespace_problem(namespace: str, eso_namespaces: Iterable[str]) -> str | None:
    """Why `namespace` can never hold a workload's secrets, or None."""
    if namespace in SYSTEM_NAMESPACES or namespace.startswith(SYSTEM_NAMESPACE_PREFIX):
        return f"{namespace!r} is a system namespace, beside the cluster's own credentials (use the workload's own namespace)"
    if namespace in set(eso_namespaces):
        return f"{namespace!r} is ESO's namespace, where its own credentials live (use the workload's own namespace)"
    return None


def vault_path_problem(path: str, mounts: Iterable[str] = (), prefix: bool = False) -> str | None:
    """Why `path` (a key, or with `prefix` a key prefix ending in '/') is not a canonical Vault path, or None."""
    body = path[:-1] if prefix and path.endswith("/") else path
    if prefix and not path.endswith("/"):
        return f"{path!r} must end in '/'"
    segments = body.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return f"{path!r} has an empty, '.' or '..' segment; Vault would normalise it into another path (write it plainly)"
    reserved = [*KV_API_SEGMENTS, *mounts]
    if segments[0] in reserved:
        return (
            f"{path!r} starts with {segments[0] + '/'!r}, which Vault reads as part of the mount's API path "
            "(name the key relative to the KV mount, e.g. 'plausible/db')"
        )
    return None


def key_prefix_problem(key: str, prefix: str) -> str | None:
    """Why `key` is not one of the workload's keys under `prefix`, or None. A key is under a prefix
    when it starts with it: the admission CEL (`startsWith`) and the Vault policy (`<prefix>*`) grant
    exactly that, and `vault_path_problem` keeps `..` from leaving it."""
    if key.startswith(prefix):
        return None
    return f"{key!r} is outside the workload's prefix {prefix!r} (use a key under {prefix}, or set key_prefix)"


def namespace_key_problem(key: str, prefixes: Iterable[str], namespace: str, mount: str) -> str | None:
    """Why the admission policy refuses `key` in `namespace`, whose workloads own `prefixes`, or None: what
    `cel_refused_key` and the policy's `startsWith` decide, for a reader of live objects (`precheck`)."""
    if problem := vault_path_problem(key, [mount]):
        return problem
    prefixes = sorted(prefixes)
    if not any(key_prefix_problem(key, prefix) is None for prefix in prefixes):
        return f"{key!r} is outside the key prefixes of namespace {namespace}: {', '.join(prefixes) or 'none'}"
    return None


def cel_refused_key(mount: str) -> str:
    """A CEL (RE2) pattern matching every key `vault_path_problem` refuses for `mount`."""
    reserved = "|".join(re.escape(name) for name in [*KV_API_SEGMENTS, mount])
    return rf"(^|/)[.]{{0,2}}(/|$)|^({reserved})(/|$)"


def nested(a: str, b: str) -> bool:
    """Whether one key prefix contains the other (equal included): their keys would overlap."""
    return a.startswith(b) or b.startswith(a)


class PrefixIndex:
    """Key prefixes seen so far, answering which of them are `nested` with a new one without comparing
    every pair (a thousand workloads would be half a million comparisons on every preview)."""

    def __init__(self) -> None:
        self._order: dict[str, int] = {}
        self._under: dict[str, list[str]] = {}  # every leading substring -> the prefixes starting with it

    def overlapping(self, prefix: str) -> list[str]:
        """The added prefixes `nested` with `prefix`, in the order they were added."""
        found = {prefix[:k] for k in range(len(prefix) + 1) if prefix[:k] in self._order}
        found.update(self._under.get(prefix, ()))
        return sorted(found, key=self._order.__getitem__)

    def add(self, prefix: str) -> None:
        if prefix not in self._order:
            self._order[prefix] = len(self._order)
            for k in range(len(prefix) + 1):
                self._under.setdefault(prefix[:k], []).append(prefix)


# --- the access registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamGrant:
    namespaces: tuple[str, ...] = ()
    key_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registry:
    """`platform/tenants.yaml`: what the platform grants each team, and what may be adopted."""

    teams: dict[str, TeamGrant] = field(default_factory=dict)
    legacy: frozenset[str] = frozenset()
    """`namespace/name` of the legacy chart's objects: the only ones a module may adopt."""


class RegistryError(Exception):
    """`platform/tenants.yaml` is malformed or grants something it may not: (field, message) per problem."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("\n".join(f"{REGISTRY_PATH}: {where}: {message}" for where, message in problems))


def load_registry(root: Path, team_folders: Iterable[str], eso_namespaces: Iterable[str], mounts: Iterable[str]) -> Registry:
    """Read and validate the registry at `root`/platform/tenants.yaml; raise RegistryError listing every problem."""
    path = root / REGISTRY_PATH
    if not path.exists():
        raise RegistryError([("file", "missing; the platform grants each team its namespaces there")])
    try:
        document = yaml.load(path.read_text(), Loader=YAML_LOADER) or {}
    except yaml.YAMLError as error:
        raise RegistryError([("file", f"not valid YAML: {error}")]) from None
    problems = list(_registry_problems(document, set(team_folders), list(eso_namespaces), list(mounts)))
    if problems:
        raise RegistryError(problems)
    teams = {
        team: TeamGrant(tuple(grant.get("namespaces") or ()), tuple(grant.get("key_prefixes") or ()))
        for team, grant in (document.get("teams") or {}).items()
    }
    return Registry(teams, frozenset(document.get("legacy") or ()))


def _registry_problems(
    document: Any, folders: set[str], eso_namespaces: list[str], mounts: list[str]
) -> Iterator[tuple[str, str]]:
    if not isinstance(document, dict) or set(document) - {"teams", "legacy"}:
        yield "file", "the top level holds only 'teams' and 'legacy'"
        return
    teams = document.get("teams") or {}
    if not isinstance(teams, dict):
        yield "teams", "must map each team folder to its grants"
        return
    prefixes: dict[str, str] = {}
    for team, grant in teams.items():
        where = f"teams.{team}"
        if team not in folders:
            yield where, f"no folder workloads/{team}/ (remove the entry, or create the team's folder)"
        if not isinstance(grant, dict) or set(grant) - {"namespaces", "key_prefixes"}:
            yield where, "holds only 'namespaces' and 'key_prefixes' lists"
            continue
        namespaces = [str(n) for n in grant.get("namespaces") or []]
        for namespace in namespaces:
            if problem := system_namespace_problem(namespace, eso_namespaces):
                yield f"{where}.namespaces", problem
        if len(set(namespaces)) != len(namespaces):
            yield f"{where}.namespaces", "a namespace is listed twice"
        for prefix in [str(p) for p in grant.get("key_prefixes") or []]:
            if problem := vault_path_problem(prefix, mounts, prefix=True):
                yield f"{where}.key_prefixes", problem
            for other_prefix, other in prefixes.items():
                if nested(prefix, other_prefix):
                    yield (
                        f"{where}.key_prefixes",
                        f"{prefix!r} overlaps {other_prefix!r} granted to team {other} (prefixes never overlap)",
                    )
            prefixes[prefix] = team
    for entry in document.get("legacy") or []:
        namespace, _, name = str(entry).partition("/")
        if not namespace or not name or "/" in name:
            yield "legacy", f"{entry!r} must be 'namespace/name' of an ExternalSecret the legacy chart holds"
