"""Find the team modules, check them together, and pick what a stack owns.

Every problem of every module is collected before anything is registered, so a bad
declaration never leaves a half-applied stack, and a PR shows all its mistakes at once.
"""

from __future__ import annotations

import ast
import traceback
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pydantic import ValidationError

from components.settings import ROOT
from components.spec import DeclarationError, Environment, Problem, WorkloadSecretsArgs, problems_from_validation_error

WORKLOADS_DIR = ROOT / "workloads"


@dataclass(frozen=True)
class DeclaredWorkload:
    """A team module's `WORKLOAD` and where it was declared."""

    args: WorkloadSecretsArgs
    module: str
    """Module path relative to the repository root, e.g. `workloads/analytics/plausible.py`."""


@dataclass(frozen=True)
class ModuleProblem:
    """A `Problem` located in a module and a workload."""

    module: str
    workload: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.module} (workload {self.workload}): {self.path}: {self.message}"


class DeclarationErrors(pulumi.RunError):
    """All problems of all team modules. A RunError: Pulumi prints it without a traceback."""

    def __init__(self, problems: list[ModuleProblem]):
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{count} in workload declarations:\n" + "\n".join(str(p) for p in problems))


def module_name(workload: str) -> str:
    """The file a workload is declared in: `agents-runtime` -> `agents_runtime.py`."""
    return workload.replace("-", "_") + ".py"


def discover(workloads_dir: Path | None = None) -> list[DeclaredWorkload]:
    """Load every team module under `workloads_dir` (default `workloads/`); raise
    DeclarationErrors listing every problem."""
    workloads_dir = workloads_dir or WORKLOADS_DIR
    declared: list[DeclaredWorkload] = []
    problems: list[ModuleProblem] = []
    root = workloads_dir.parent
    for path in sorted(workloads_dir.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if path.name.startswith("_") or "__pycache__" in path.parts:
            continue
        workload = path.stem.replace("_", "-")
        if path.parent.parent != workloads_dir:
            problems.append(
                ModuleProblem(relative, workload, "module", "team modules live at workloads/<team>/<workload>.py; move it")
            )
            continue
        loaded, module_problems = _load(path, relative, workload)
        problems += module_problems
        if loaded is not None:
            declared.append(loaded)
    problems += cross_check(declared)
    if problems:
        raise DeclarationErrors(problems)
    return declared


def _load(path: Path, relative: str, workload: str) -> tuple[DeclaredWorkload | None, list[ModuleProblem]]:
    def located(problems: Iterable[Problem], name: str = workload) -> list[ModuleProblem]:
        return [ModuleProblem(relative, name, p.path, p.message) for p in problems]

    source = path.read_text()
    try:
        tree = ast.parse(source, filename=relative)
    except SyntaxError as error:
        return None, located([Problem(f"line {error.lineno}", f"syntax error: {error.msg}")])
    duplicates = located(_duplicate_keys(tree))

    module = types.ModuleType(f"workloads.{path.parent.name}.{path.stem}")
    module.__file__ = str(path)
    try:
        # Compiled from the tree parsed above: parsing is most of what a module costs to load.
        exec(compile(tree, str(path), "exec"), module.__dict__)
    except DeclarationError as error:
        return None, duplicates + located(error.problems, error.workload)
    except ValidationError as error:
        # Nested models (ExternalSecretSpec(...), RemoteRef(...)) validate, and fail, before
        # WORKLOAD exists: find which call failed to give its field path from WORKLOAD.
        call = _failing_call(error, path)
        # A model built elsewhere (a helper, a comprehension) has no path from WORKLOAD: name its line.
        root = _call_paths(tree).get(call) or f"line {call[0]}: {error.title}(...)"
        return None, duplicates + located(problems_from_validation_error(error, root))
    except Exception as error:
        return None, duplicates + located([Problem(_line_in(error, path), f"{type(error).__name__}: {error}")])

    value = getattr(module, "WORKLOAD", None)
    if not isinstance(value, WorkloadSecretsArgs):
        found = "nothing" if value is None else type(value).__name__
        return None, duplicates + located(
            [Problem("WORKLOAD", f"the module must define WORKLOAD = WorkloadSecretsArgs(...), found {found}")]
        )
    return DeclaredWorkload(value, relative), duplicates


def _frame_in(error: BaseException, path: Path) -> traceback.FrameSummary | None:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    return frames[-1] if frames else None


def _line_in(error: BaseException, path: Path) -> str:
    frame = _frame_in(error, path)
    return f"line {frame.lineno}" if frame else "module"


def _failing_call(error: BaseException, path: Path) -> tuple[int | None, int | None]:
    frame = _frame_in(error, path)
    return (frame.lineno, frame.colno) if frame else (None, None)


def _call_paths(tree: ast.Module) -> dict[tuple[int | None, int | None], str]:
    """Position of each call in a module-level assignment -> its field path, e.g. the
    `ExternalSecretSpec(` at line 9 -> `WORKLOAD.external_secrets[0]`."""
    paths: dict[tuple[int | None, int | None], str] = {}

    def visit(node: ast.expr, path: str) -> None:
        if isinstance(node, ast.Call):
            paths[(node.lineno, node.col_offset)] = path
            for keyword in node.keywords:
                if keyword.arg:
                    visit(keyword.value, f"{path}.{keyword.arg}")
        elif isinstance(node, (ast.List, ast.Tuple)):
            for i, element in enumerate(node.elts):
                visit(element, f"{path}[{i}]")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=False):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    visit(value, f'{path}["{key.value}"]')

    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    visit(statement.value, target.id)
    return paths


def _walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree`, like ast.walk at about twice its speed (it runs on every module)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for name in node._fields:
            child = getattr(node, name, None)
            if isinstance(child, ast.AST):
                pending.append(child)
            elif isinstance(child, list):
                pending.extend(item for item in child if isinstance(item, ast.AST))


def _duplicate_keys(tree: ast.AST) -> Iterator[Problem]:
    # Python keeps the last of two equal keys in a dict literal without a word: a silently
    # dropped secret key (ESO's "duplicate secretKey") would only show up in production.
    for node in _walk(tree):
        if isinstance(node, ast.Dict):
            seen: set[object] = set()
            for key in node.keys:
                if isinstance(key, ast.Constant):
                    if key.value in seen:
                        yield Problem(
                            f"line {key.lineno}",
                            f"key {key.value!r} appears twice in one mapping; Python keeps only the last (remove one)",
                        )
                    seen.add(key.value)


def cross_check(declared: list[DeclaredWorkload]) -> list[ModuleProblem]:
    """Rules that need every workload at once: ownership and uniqueness. Linear in the inventory."""
    problems: list[ModuleProblem] = []
    workloads: dict[str, DeclaredWorkload] = {}
    names: dict[tuple[str, str], str] = {}
    targets: dict[tuple[str, str], str] = {}
    existing: dict[tuple[str, str], str] = {}
    for d in declared:
        for secret in d.args.existing_secrets:
            existing.setdefault((d.args.namespace, secret), d.args.workload)

    for d in declared:
        args = d.args

        def problem(path: str, message: str, d: DeclaredWorkload = d) -> None:
            problems.append(ModuleProblem(d.module, d.args.workload, path, message))

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
                problem(
                    f"{at}.name",
                    f"ExternalSecret {args.namespace}/{spec.name} is already declared by workload {names[where]} (choose another name)",
                )
            names.setdefault(where, args.workload)
            target = (args.namespace, spec.target_name)
            if target in targets:
                problem(
                    f"{at}.target",
                    f"Secret {args.namespace}/{spec.target_name} is already written by workload {targets[target]}'s ExternalSecret (two writers would overwrite each other)",
                )
            targets.setdefault(target, args.workload)
            if target in existing:
                problem(
                    f"{at}.target",
                    f"Secret {args.namespace}/{spec.target_name} is cluster-managed (existing_secrets of workload "
                    f"{existing[target]}); use it as it is instead of re-hydrating it from Vault",
                )
    return problems


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


def grants(workloads: Iterable[DeclaredWorkload]) -> list[Grant]:
    """What the admission policy and Vault's ACL allow: one grant per workload that reads Vault at all."""
    return [
        Grant(
            namespace=d.args.namespace,
            prefix=d.args.prefix,
            module=d.module,
            fetch_metadata=any(
                ref.metadata_policy == "Fetch"
                for spec in d.args.external_secrets
                for ref in [*spec.data.values(), *spec.data_from]
            ),
        )
        for d in workloads
        if d.args.external_secrets
    ]
