"""Pure rules of tenancy: who may use which namespace and which Vault paths — each rule in one place.

Every layer that enforces one of these calls it from here: the declaration checks (`declare/contract.py`,
`inventory.py`), the guardrail rules (`policies.py`), the admission CEL (`admission.py`) and the
Vault policy generation (`vault_plan.py`).

- **System namespaces** (`default`, `kube-*`, ESO's) are never a workload's, whatever is granted.
- **Canonical Vault paths**: a key or prefix is plain segments — none empty, `.` or `..` — and
  does not start with `data/` or `metadata/` (KV v2's API paths) or the KV mount's own name. ESO
  and Vault's client normalise such paths (`./keycloak/x`, `secret/keycloak/x`), so a path that
  looks like it is under one prefix could read under another.
- **The access registry** `platform/tenants.yaml` (platform-owned): which namespaces, workloads (and
  with each its key prefix `<workload>/`), extra key prefixes and Merge targets each team may declare,
  and which team may adopt each legacy object. Grants never overlap; every layer takes a workload's
  prefix from here (`Registry.granted_prefix`), never from a declaration alone.
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
    return f"{key!r} is outside the workload's prefix {prefix!r} (use a key under {prefix}; another prefix needs a key_prefix under one the platform grants your team in platform/tenants.yaml)"


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

REGISTRY_TEAM_FIELDS = ("namespaces", "workloads", "key_prefixes", "merge_into")


@dataclass(frozen=True)
class TeamGrant:
    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    """The workloads the team may declare; each brings its own key prefix `<workload>/`."""
    key_prefixes: tuple[str, ...] = ()
    merge_into: tuple[str, ...] = ()
    """`namespace/name` of existing Secrets the team may write into with `creation_policy="Merge"`."""


@dataclass(frozen=True)
class Registry:
    """`platform/tenants.yaml`: what the platform grants each team, and which team may adopt what."""

    teams: dict[str, TeamGrant] = field(default_factory=dict)
    legacy: dict[str, str] = field(default_factory=dict)
    """`namespace/name` of the legacy chart's objects -> the one team that may adopt it."""
    lines: dict[str, int] = field(default_factory=dict)
    """Team -> the line of its entry in the registry file, for messages that send a reader there."""

    def _where(self, team: str, entry: str) -> str:
        line = self.lines.get(team)
        return f"teams.{team}.{entry} in {REGISTRY_PATH}" + (f" (line {line})" if line else "")

    def namespace_problem(self, team: str, namespace: str) -> str | None:
        """Why `team` may not declare workloads in `namespace`, or None."""
        grant = self.teams.get(team)
        if grant is None:
            return f"team {team!r} has no entry in {REGISTRY_PATH} (the platform team grants its namespaces there)"
        if namespace not in grant.namespaces:
            return (
                f"namespace {namespace!r} is not granted to team {team} (granted: {', '.join(grant.namespaces) or 'none'}); "
                f"use a granted namespace, or ask the platform team to grant it in {self._where(team, 'namespaces')}"
            )
        return None

    def owner(self, workload: str) -> str | None:
        """The team granted `workload`, or None."""
        return next((team for team, grant in self.teams.items() if workload in grant.workloads), None)

    def workload_problem(self, team: str, workload: str) -> str | None:
        """Why `team` may not declare `workload`, or None: only granted names, so no team takes over the
        keys of a workload nobody has declared yet (legacy, future or removed)."""
        grant = self.teams.get(team)
        if grant is None or workload in grant.workloads:
            return None
        owner = self.owner(workload)
        held = f"it is granted to team {owner}" if owner else "no team is granted it"
        return (
            f"workload {workload!r} is not granted to team {team} ({held}); the platform team grants it by adding "
            f"{workload!r} to {self._where(team, 'workloads')}"
        )

    def prefix_problem(self, team: str, workload: str, prefix: str) -> str | None:
        """Why `workload` of `team` may not read keys under `prefix`, or None: its own `<workload>/` once the
        workload is granted, or a prefix under one of the team's `key_prefixes`."""
        grant = self.teams.get(team, TeamGrant())
        if prefix == f"{workload}/" and workload in grant.workloads:
            return None
        if any(prefix.startswith(p) for p in grant.key_prefixes):
            return None
        if prefix == f"{workload}/":
            return self.workload_problem(team, workload) or f"workload {workload!r} is not granted to team {team}"
        return (
            f"{prefix!r} is neither workload {workload}'s own {workload + '/'!r} nor under a prefix granted to team {team} "
            f"(granted: {', '.join(grant.key_prefixes) or 'none'}); the platform team grants one in "
            f"{self._where(team, 'key_prefixes')}"
        )

    def granted_prefix(self, team: str, workload: str, prefix: str) -> str:
        """`prefix`, once the registry grants it to `workload` of `team`; ValueError otherwise. What the
        admission policy and Vault's ACL are generated from: never a declaration alone."""
        if problem := self.prefix_problem(team, workload, prefix):
            raise ValueError(problem)
        return prefix

    def adopt_problem(self, team: str, where: str) -> str | None:
        """Why `team` may not take over the legacy object `where` (`namespace/name`), or None."""
        holder = self.legacy.get(where)
        if holder == team:
            return None
        if holder is None:
            return (
                f"ExternalSecret {where} is not listed under legacy in {REGISTRY_PATH}: only objects the legacy chart "
                "holds may be taken over (drop adopt, or ask the platform team to list it)"
            )
        return (
            f"ExternalSecret {where} may be adopted only by team {holder} ({REGISTRY_PATH}, legacy); "
            f"team {team} cannot take it over (drop adopt, or ask the platform team to move the entry)"
        )

    def merge_problem(self, team: str, where: str) -> str | None:
        """Why `team` may not write into the existing Secret `where` (`namespace/name`), or None."""
        if where in self.teams.get(team, TeamGrant()).merge_into:
            return None
        return (
            f"Secret {where} is not granted to team {team} to merge into: Merge writes into a Secret someone else "
            f"created (use creation_policy Owner, or ask the platform team to add {where!r} to "
            f"{self._where(team, 'merge_into')})"
        )


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
    text = path.read_text()
    try:
        document = yaml.load(text, Loader=YAML_LOADER) or {}
        node = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.YAMLError as error:
        raise RegistryError([("file", f"not valid YAML: {error}")]) from None
    problems = list(_registry_problems(document, set(team_folders), list(eso_namespaces), list(mounts)))
    if problems:
        raise RegistryError(problems)
    teams = {
        team: TeamGrant(*(tuple(str(v) for v in grant.get(name) or ()) for name in REGISTRY_TEAM_FIELDS))
        for team, grant in (document.get("teams") or {}).items()
    }
    legacy = {str(where): str(team) for where, team in (document.get("legacy") or {}).items()}
    return Registry(teams, legacy, _team_lines(node))


def _team_lines(node: Any) -> dict[str, int]:
    """Team -> 1-based line of its key under `teams:` in the composed document."""
    for key, value in getattr(node, "value", []) if isinstance(node, yaml.MappingNode) else []:
        if key.value == "teams" and isinstance(value, yaml.MappingNode):
            return {team.value: team.start_mark.line + 1 for team, _ in value.value}
    return {}


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
    # Grants never overlap: each prefix (a workload's own, or a key prefix) and each merge target has one team.
    index = PrefixIndex()
    prefix_holders: dict[str, str] = {}
    holders: dict[str, str] = {}
    namespaces_of: dict[str, set[str]] = {}
    for team, grant in teams.items():
        where = f"teams.{team}"
        if team not in folders:
            yield where, f"no folder workloads/{team}/ (remove the entry, or create the team's folder)"
        if not isinstance(grant, dict) or set(grant) - set(REGISTRY_TEAM_FIELDS):
            yield where, f"holds only the lists {', '.join(map(repr, REGISTRY_TEAM_FIELDS))}"
            continue
        if any(not isinstance(grant.get(name) or [], list) for name in REGISTRY_TEAM_FIELDS):
            yield where, f"{', '.join(map(repr, REGISTRY_TEAM_FIELDS))} are lists"
            continue
        namespaces = [str(n) for n in grant.get("namespaces") or []]
        namespaces_of[str(team)] = set(namespaces)
        for namespace in namespaces:
            if problem := system_namespace_problem(namespace, eso_namespaces):
                yield f"{where}.namespaces", problem
        if len(set(namespaces)) != len(namespaces):
            yield f"{where}.namespaces", "a namespace is listed twice"
        granted = [(f"{where}.workloads", f"{w}/", f"workload {w} ") for w in map(str, grant.get("workloads") or [])]
        granted += [(f"{where}.key_prefixes", str(p), "") for p in grant.get("key_prefixes") or []]
        for entry, prefix, what in granted:
            if problem := vault_path_problem(prefix, mounts, prefix=True):
                yield entry, f"{what}{problem}"
                continue
            for other in index.overlapping(prefix):
                yield entry, f"{what}{prefix!r} overlaps {other!r} granted to team {prefix_holders[other]} (grants never overlap)"
            index.add(prefix)
            prefix_holders.setdefault(prefix, str(team))
        for target in map(str, grant.get("merge_into") or []):
            if (problem := _where_problem(target, "a Secret the team may merge into")) is not None:
                yield f"{where}.merge_into", problem
            elif target.partition("/")[0] not in namespaces:
                yield f"{where}.merge_into", f"{target!r} is in a namespace not granted to team {team}"
            elif target in holders:
                yield f"{where}.merge_into", f"{target!r} is also granted to team {holders[target]} (grants never overlap)"
            holders.setdefault(target, str(team))
    legacy = document.get("legacy") or {}
    if not isinstance(legacy, dict):
        yield "legacy", "must map 'namespace/name' of each legacy ExternalSecret to the team that may adopt it"
        return
    for entry, team in legacy.items():
        if (problem := _where_problem(str(entry), "an ExternalSecret the legacy chart holds")) is not None:
            yield "legacy", problem
        elif str(team) not in namespaces_of:
            yield f"legacy.{entry}", f"names team {team!r}, which has no entry under teams"
        elif str(entry).partition("/")[0] not in namespaces_of[str(team)]:
            yield f"legacy.{entry}", f"is in a namespace not granted to team {team}"


def _where_problem(entry: str, what: str) -> str | None:
    namespace, _, name = entry.partition("/")
    if not namespace or not name or "/" in name:
        return f"{entry!r} must be 'namespace/name' of {what}"
    return None
