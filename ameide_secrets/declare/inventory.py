"""Find the team modules, check them together, and pick what a stack owns.

Every problem of every module is collected before anything is registered, so a bad
declaration never leaves a half-applied stack, and a PR shows all its mistakes at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ameide_secrets.declare import team_module
from ameide_secrets.declare.contract import Environment, WorkloadSecretsArgs
from ameide_secrets.findings import Finding, InputError, count
from ameide_secrets.rules import refresh, targets, tenancy

WORKLOADS = "workloads"
"""The team modules' folder, under the project root."""


@dataclass(frozen=True)
class DeclaredWorkload:
    """A team module's `WORKLOAD` and where it was declared."""

    args: WorkloadSecretsArgs
    module: str
    """Module path relative to the repository root, e.g. `workloads/analytics/plausible.py`."""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    """The line of each field path the module writes (team_module.ModuleData.lines)."""

    def finding(self, path: str, message: str) -> Finding:
        """A problem with field `path` of this declaration, at the line that writes it (or holds it)."""
        return module_finding(self.module, self.args.workload, path, message, line=team_module.line_of(self.lines, path))


def module_finding(module: str, workload: str, path: str, message: str, line: int | None = None) -> Finding:
    """A finding in `module` (and `workload`, unless it is the access registry), at field `path` or `line`."""
    return Finding(message, file=module, line=line, workload=workload or None, field=path or None)


class DeclarationErrors(InputError):  # noqa: N818 - the name the program and tests have always used
    """All problems of all team modules (the program raises them as a RunError: no traceback)."""

    def __init__(self, problems: list[Finding]):
        self.problems = problems
        super().__init__(f"{count(problems, 'problem')} in workload declarations:\n" + "\n".join(map(str, problems)), problems)


def module_name(workload: str) -> str:
    """The file a workload is declared in: `agents-runtime` -> `agents_runtime.py`."""
    return workload.replace("-", "_") + ".py"


@dataclass(frozen=True)
class Inventory:
    """Every team module's declaration, and the access registry they were checked against."""

    workloads: tuple[DeclaredWorkload, ...]
    registry: tenancy.Registry


def discover(root: Path, eso_namespaces: Sequence[str], mounts: Sequence[str]) -> Inventory:
    """Read every team module under `root`/workloads as data, and check them against each other and the
    access registry; `eso_namespaces` and `mounts` are every stack's (never a workload namespace, never a
    key's first segment). Raise DeclarationErrors listing every problem."""
    workloads_dir = root / WORKLOADS
    declared: list[DeclaredWorkload] = []
    problems: list[Finding] = []
    for path, refused in team_module.find_modules(workloads_dir):
        relative = path.relative_to(root).as_posix()
        if path.name.startswith("_") or "__pycache__" in path.parts:
            continue
        if refused is not None:  # a link (never followed), a folder or fifo named like a module
            problems.append(module_finding(relative, "", "", refused))
            continue
        workload = path.stem.replace("_", "-")
        if path.parent.parent != workloads_dir:
            problems.append(
                module_finding(relative, workload, "module", "team modules live at workloads/<team>/<workload>.py; move it")
            )
            continue
        loaded, module_problems = _load(path, relative, workload)
        problems += module_problems
        if loaded is not None:
            declared.append(loaded)
    problems += cross_check(declared)
    try:
        registry = tenancy.load_registry(root, _team_folders(workloads_dir), eso_namespaces, mounts)
    except tenancy.RegistryError as error:
        problems += [module_finding(tenancy.REGISTRY_PATH, "", where, message) for where, message in error.problems]
    else:
        problems += tenancy_check(declared, registry, eso_namespaces, mounts)
    if problems:
        raise DeclarationErrors(problems)
    return Inventory(tuple(declared), registry)


def _team_folders(workloads_dir: Path) -> list[str]:
    return [p.name for p in workloads_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]


def tenancy_check(
    declared: list[DeclaredWorkload], registry: tenancy.Registry, eso_namespaces: Sequence[str], mounts: Sequence[str]
) -> list[Finding]:
    """What the access registry and the canonical-path rule (rules/tenancy.py) refuse, per module."""
    problems: list[Finding] = []
    index = tenancy.PrefixIndex()
    holders: dict[str, DeclaredWorkload] = {}
    for d in declared:
        args = d.args

        def problem(path: str, message: str, d: DeclaredWorkload = d) -> None:
            problems.append(d.finding(path, message))

        # The folder is the team (CODEOWNERS reviews by folder); cross_check reports a differing `team`.
        team = Path(d.module).parent.name
        grant = registry.teams.get(team)
        if (refused := tenancy.system_namespace_problem(args.namespace, eso_namespaces)) is not None:
            problem("WORKLOAD.namespace", refused)
        elif (refused := registry.namespace_problem(team, args.namespace)) is not None:
            problem("WORKLOAD.team" if grant is None else "WORKLOAD.namespace", refused)
        if grant is not None and (refused := registry.workload_problem(team, args.workload)) is not None:
            problem("WORKLOAD.workload", refused)
        elif grant is not None and (refused := registry.prefix_problem(team, args.workload, args.prefix)) is not None:
            problem("WORKLOAD.key_prefix", refused)
        if (refused := tenancy.vault_path_problem(args.prefix, mounts, prefix=True)) is not None:
            problem("WORKLOAD.key_prefix", refused)
        for other in map(holders.__getitem__, index.overlapping(args.prefix)):
            for this, that in ((d, other), (other, d)):
                problems.append(
                    this.finding(
                        "WORKLOAD.key_prefix",
                        f"prefix {this.args.prefix!r} overlaps {that.args.prefix!r} of workload {that.args.workload} in "
                        f"{that.module}: each workload's keys are its own (choose prefixes that do not contain each other)",
                    )
                )
        index.add(args.prefix)
        holders.setdefault(args.prefix, d)
        for i, spec in enumerate(args.external_secrets):
            at = f"WORKLOAD.external_secrets[{i}]"
            if args.adopts(spec) and (refused := registry.adopt_problem(team, f"{args.namespace}/{spec.name}")):
                problem(f"{at}.adopt", refused)
            if spec.creation_policy in targets.MERGING and (
                refused := registry.merge_problem(team, f"{args.namespace}/{spec.target_name}")
            ):
                problem(f"{at}.creation_policy", refused)
            refs = [(f'{at}.data["{k}"]', ref) for k, ref in spec.data.items()]
            refs += [(f"{at}.data_from[{j}]", ref) for j, ref in enumerate(spec.data_from)]
            for path, ref in refs:
                if (refused := tenancy.vault_path_problem(ref.key, mounts)) is not None:
                    problem(f"{path}.key", refused)
    return problems


def _load(path: Path, relative: str, workload: str) -> tuple[DeclaredWorkload | None, list[Finding]]:
    data = team_module.read_file(path, relative)
    name = data.workload_name or workload
    problems = [module_finding(relative, name, "", p.message, line=p.line) for p in data.line_problems]
    problems += [module_finding(relative, name, p.field or "", p.message, line=p.line) for p in data.field_problems]
    if data.workload is None:
        return None, problems
    return DeclaredWorkload(data.workload, relative, data.lines), problems


def cross_check(declared: list[DeclaredWorkload]) -> list[Finding]:
    """Rules that need every workload at once: ownership and uniqueness. Linear in the inventory."""
    problems: list[Finding] = []
    workloads: dict[str, DeclaredWorkload] = {}
    # (namespace, name) -> the first workload declaring it; messages name that module's file too.
    names: dict[tuple[str, str], DeclaredWorkload] = {}
    targets: dict[tuple[str, str], DeclaredWorkload] = {}
    existing: dict[tuple[str, str], tuple[DeclaredWorkload, int]] = {}
    for d in declared:
        for j, secret in enumerate(d.args.existing_secrets):
            existing.setdefault((d.args.namespace, secret), (d, j))

    for d in declared:
        args = d.args

        def problem(path: str, message: str, d: DeclaredWorkload = d) -> None:
            problems.append(d.finding(path, message))

        team_folder = Path(d.module).parent.name
        if args.team != team_folder:
            problem(
                "WORKLOAD.team",
                f"team {args.team!r} does not match the folder workloads/{team_folder}/ (set team={team_folder!r} or move the module)",
            )
        if Path(d.module).name != module_name(args.workload):
            problem(
                "WORKLOAD.workload",
                f"workload {args.workload!r} must be declared in {module_name(args.workload)} (rename the module)",
            )
        if args.workload in workloads:
            problem("WORKLOAD.workload", f"workload {args.workload!r} is already declared in {workloads[args.workload].module}")
        workloads.setdefault(args.workload, d)
        for i, spec in enumerate(args.external_secrets):
            at = f"WORKLOAD.external_secrets[{i}]"
            where = (args.namespace, spec.name)
            if where in names:
                first = names[where]
                problem(
                    f"{at}.name",
                    f"ExternalSecret {args.namespace}/{spec.name} is already declared by workload {first.args.workload} "
                    f"in {first.module} (choose another name)",
                )
            names.setdefault(where, d)
            target = (args.namespace, spec.target_name)
            if target in targets:
                first = targets[target]
                problem(
                    f"{at}.target",
                    f"Secret {args.namespace}/{spec.target_name} is already written by workload {first.args.workload}'s "
                    f"ExternalSecret in {first.module} (two writers would overwrite each other)",
                )
            targets.setdefault(target, d)
            if target in existing:
                # Either side may be the mistake: the writer re-hydrates a cluster-managed Secret, or
                # the claim names a Secret that a workload writes. Each module hears of the other.
                claimer, j = existing[target]
                problem(
                    f"{at}.target",
                    f"Secret {args.namespace}/{spec.target_name} is cluster-managed (existing_secrets of workload "
                    f"{claimer.args.workload} in {claimer.module}); use it as it is instead of re-hydrating it from Vault",
                )
                problems.append(
                    claimer.finding(
                        f"WORKLOAD.existing_secrets[{j}]",
                        f"Secret {args.namespace}/{spec.target_name} is written from Vault by workload {args.workload}'s "
                        f"ExternalSecret {spec.name} in {d.module}, so it is not cluster-managed (remove it here, or remove that ExternalSecret)",
                    )
                )
    return problems


def refresh_check(workloads: Iterable[DeclaredWorkload], floor: str) -> list[Finding]:
    """Every ExternalSecret of `workloads` that sets a refresh interval below the stack's `floor` (rules/refresh.py)."""
    return [
        d.finding(f"WORKLOAD.external_secrets[{i}].refresh_interval", problem)
        for d in workloads
        for i, spec in enumerate(d.args.external_secrets)
        if spec.refresh_interval is not None and (problem := refresh.below_floor_problem(spec.refresh_interval, floor))
    ]


def owned(declared: Iterable[DeclaredWorkload], environment: Environment) -> list[DeclaredWorkload]:
    """Workloads whose secrets a stack of `environment` owns: those rolled out at least that far."""
    return [d for d in declared if environment <= d.args.rollout]


def modules(workloads: Iterable[DeclaredWorkload]) -> dict[str, str]:
    """Workload name -> the module that declares it."""
    return {d.args.workload: d.module for d in workloads}


def adopting(workloads: Iterable[DeclaredWorkload]) -> bool:
    """Whether any of these workloads takes over an ExternalSecret from the legacy bundle."""
    return any(d.args.adopts(spec) for d in workloads for spec in d.args.external_secrets)


def namespaces(workloads: Iterable[DeclaredWorkload]) -> list[str]:
    """The namespaces the platform's store must admit for these workloads."""
    return sorted({d.args.namespace for d in workloads})


@dataclass(frozen=True)
class Grant:
    """A Vault key prefix one workload reads, the namespace it is read from, and where that is declared."""

    namespace: str
    """Where the workload's ExternalSecrets live."""
    prefix: str
    """The workload's Vault key prefix, ending in `/`."""
    module: str
    """The declaring module, e.g. `workloads/analytics/plausible.py`: what refusals point teams to."""
    fetch_metadata: bool
    """Some key under the prefix is read with `metadata_policy="Fetch"` (KV v2 metadata path)."""
    merge_into: tuple[str, ...] = ()
    """Names of existing Secrets in `namespace` the workload writes into with a merging policy, as granted."""


def grants(workloads: Iterable[DeclaredWorkload], registry: tenancy.Registry) -> list[Grant]:
    """What the admission policy and Vault's ACL allow: one grant per workload that reads Vault at all, its
    prefix and Merge targets as the registry grants them (ValueError for any it does not: discovery refuses
    those first, so only a caller bypassing it can meet one)."""
    return [_grant(d, registry) for d in workloads if d.args.external_secrets]


def _grant(d: DeclaredWorkload, registry: tenancy.Registry) -> Grant:
    team, args = Path(d.module).parent.name, d.args
    merging = sorted({spec.target_name for spec in args.external_secrets if spec.creation_policy in targets.MERGING})
    if refused := [p for name in merging if (p := registry.merge_problem(team, f"{args.namespace}/{name}"))]:
        raise ValueError(refused[0])
    return Grant(
        namespace=args.namespace,
        prefix=registry.granted_prefix(team, args.workload, args.prefix),
        module=d.module,
        fetch_metadata=any(
            ref.metadata_policy == "Fetch" for spec in args.external_secrets for ref in [*spec.data.values(), *spec.data_from]
        ),
        merge_into=tuple(merging),
    )
