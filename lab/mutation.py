"""A repeatable mutation run over the rules, renderers and commands: do the unit tests kill what they claim?

    python -m lab.mutation                          # the listed mutants (lab/mutants.yaml)
    python -m lab.mutation --sample 60 --seed 26    # … and 60 fresh ones, generated from the syntax trees
    python -m lab.mutation --only smoke             # the listed mutants whose file or why mentions `smoke`
    python -m lab.mutation --sample 60 --seed 26 --no-listed --show   # print the sample, run nothing

A mutant is one small change to the program (a snippet replaced, a comparison or a boolean flipped, a
statement dropped). Each is applied to a temporary copy of the tree, never to the working tree; only
the unit tests mirroring the mutated file run there (`pytest -x`, with the copy first on the path, so
the CLI's subprocesses run the mutant too). A mutant the tests fail on is killed; one they pass is a
survivor: a change of behaviour nobody would notice. Before any mutant, each test selection must pass
on the unmutated copy. The run exits 1 when a score is under `--min-score` (90 %).

`lab/mutants.yaml` holds the listed mutants (file, original snippet, replacement, why, optionally the
tests) and the fresh mutants found equivalent (same behaviour, nothing can kill them), by id, with the
reason: those are reported and left out of the score. docs/testing.md states the scores.
"""

from __future__ import annotations

import argparse
import ast
import collections
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPOSITORY = Path(__file__).resolve().parent.parent
LIST = Path(__file__).with_name("mutants.yaml")

# What a fresh sample mutates: the rules, renderers and commands.
SCOPE = (
    "ameide_secrets/rules",
    "ameide_secrets/render",
    "ameide_secrets/offline",
    "ameide_secrets/checks",
    "ameide_secrets/cli",
    "ameide_secrets/declare",
    "ameide_secrets/legacy.py",
)
# The unit tests of a source file that has no mirror `tests/unit/<package>/test_<module>.py` (or more than it).
TESTS: dict[str, tuple[str, ...]] = {
    "ameide_secrets/cli/diff.py": ("tests/unit/cli",),
    "ameide_secrets/cli/lineage.py": ("tests/unit/cli",),
    "ameide_secrets/cli/legacy.py": ("tests/unit/test_legacy.py", "tests/unit/cli"),
    "ameide_secrets/cli/output.py": ("tests/unit/cli",),
    "ameide_secrets/cli/precheck.py": ("tests/unit/cli",),
    "ameide_secrets/cli/preview.py": ("tests/unit/offline/test_preview.py", "tests/unit/cli"),
    "ameide_secrets/cli/rollout.py": ("tests/unit/test_rollout.py", "tests/unit/cli"),
    "ameide_secrets/cli/smoke.py": ("tests/unit/cli",),
    "ameide_secrets/cli/vault_check.py": ("tests/unit/cli",),
    # The registry's checks of each module (tenancy_check) are judged by the tenancy suite.
    "ameide_secrets/declare/inventory.py": ("tests/unit/declare/test_inventory.py", "tests/unit/rules/test_tenancy.py"),
    # run_main puts the program's folder on sys.path: the installed CLI, run from elsewhere, needs it.
    "ameide_secrets/offline/harness.py": (
        "tests/unit/offline/test_harness.py",
        "tests/unit/program/test_main.py",
        "tests/unit/cli/test_cli.py",
    ),
    "ameide_secrets/offline/revision.py": ("tests/unit/offline/test_preview.py",),
    "ameide_secrets/render/objects.py": (
        "tests/unit/program/test_main.py",
        "tests/unit/render/test_manifests.py",
        "tests/unit/render/test_preview_access.py",
        "tests/unit/program/test_platform_secret_access.py",
    ),
    "ameide_secrets/rules/gate.py": ("tests/unit/program/test_rollout_gate.py", "tests/unit/offline/test_preview.py"),
    "ameide_secrets/rules/stores.py": (
        "tests/unit/rules/test_guardrails.py",
        "tests/unit/checks/test_precheck.py",
        "tests/unit/render/test_admission.py",
        "tests/unit/test_legacy.py",
    ),
    "ameide_secrets/rules/targets.py": (
        "tests/unit/declare/test_contract.py",
        "tests/unit/rules/test_tenancy.py",
        "tests/unit/rules/test_guardrails.py",
        "tests/unit/render/test_admission.py",
    ),
}
TIMEOUT = 300
"""Seconds one mutant's tests may take; longer counts as killed (a hang is noticed), and is reported."""
MEMORY = 4 << 30
"""Address space of one mutant's test run: a mutant that makes something grow without bound fails fast."""


@dataclass(frozen=True)
class Mutant:
    file: str
    original: str
    replacement: str
    why: str
    tests: tuple[str, ...] = ()
    id: str = ""
    whole_file: bool = False
    """A fresh mutant: `original` and `replacement` are the whole file, before and after."""

    @property
    def selection(self) -> tuple[str, ...]:
        return self.tests or selection_of(self.file)


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str
    """killed | survived | timeout | equivalent."""
    seconds: float = 0.0


@dataclass
class Listing:
    mutants: list[Mutant] = field(default_factory=list)
    equivalent: dict[str, str] = field(default_factory=dict)
    """Fresh mutant id -> why it behaves exactly like the program."""


def selection_of(file: str, root: Path = REPOSITORY) -> tuple[str, ...]:
    """The unit tests that mirror `file` (TESTS first)."""
    if file in TESTS:
        return TESTS[file]
    package, _, module = file.removeprefix("ameide_secrets/").rpartition("/")
    mirror = Path("tests/unit", package, f"test_{module}")
    if not (root / mirror).is_file():
        raise SystemExit(f"{file}: no tests/unit mirror ({mirror}); add it to lab/mutation.py's TESTS")
    return (str(mirror),)


def load(path: Path = LIST) -> Listing:
    document = yaml.safe_load(path.read_text()) or {}
    mutants = [
        Mutant(m["file"], m["original"], m["replacement"], m["why"], tuple(m.get("tests") or ()), f"{m['file']}: {m['why']}")
        for m in document.get("mutants") or []
    ]
    return Listing(mutants, dict(document.get("equivalent") or {}))


def apply(source: str, mutant: Mutant) -> str:
    """`source` with the mutant's snippet replaced; the snippet must occur exactly once."""
    found = source.count(mutant.original)
    if found != 1:
        raise ValueError(f"{mutant.id}: the original snippet occurs {found} times in {mutant.file} (it must be once)")
    return source.replace(mutant.original, mutant.replacement)


# --- fresh mutants, from the syntax tree -------------------------------------------------------------

_FLIPPED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Site:
    """One place a fresh mutant changes: byte offsets of the node's source and what replaces it."""

    file: str
    start: int
    end: int
    replacement: str
    kind: str


def _skipped(tree: ast.Module) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, decorators, f-strings' insides (their positions are
    unreliable) and the values of module-level UPPER_CASE constants."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            skip(node.body[0])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip(node.returns)
            for argument in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs, node.args.vararg, node.args.kwarg]:
                skip(argument.annotation if argument else None)
        if isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, ast.JoinedStr):
            skip(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                skip(decorator)
    for statement in tree.body:
        # A module's named bound (`MAX_PROBLEMS = 50`) is a choice the tests read by name, not behaviour to pin.
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        upper = targets and all(isinstance(t, ast.Name) and t.id.isupper() for t in targets)
        if upper and isinstance(statement, ast.Assign) and isinstance(statement.value, (ast.Constant, ast.BinOp)):
            skip(statement.value)
    return skipped


def sites(file: str, source: str) -> Iterator[Site]:
    """Every fresh mutant of `source`: each comparison and boolean operator flipped, each `not` dropped, each
    condition negated, each bool flipped and integer moved by one, each call statement dropped."""
    data = source.encode()
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    tree = ast.parse(source)
    skipped = _skipped(tree)

    def span(node: ast.AST) -> tuple[int, int]:
        return (
            starts[node.lineno - 1] + node.col_offset,  # type: ignore[attr-defined]
            starts[node.end_lineno - 1] + node.end_col_offset,  # type: ignore[attr-defined]
        )

    def site(node: ast.AST, replacement: str, kind: str) -> Site:
        return Site(file, *span(node), replacement, kind)

    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _FLIPPED:
                    ops = [*node.ops]
                    ops[i] = _FLIPPED[type(op)]()
                    flipped = ast.Compare(node.left, ops, node.comparators)
                    yield site(node, f"({ast.unparse(flipped)})", f"{type(op).__name__} -> {type(ops[i]).__name__}")
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield site(node, f"({ast.unparse(ast.BoolOp(other, node.values))})", "and <-> or")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield site(node, f"({ast.unparse(node.operand)})", "not dropped")
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield site(node, str(not node.value), "bool flipped")
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield site(node, str(node.value + 1), "integer + 1")
        if isinstance(node, (ast.If, ast.While, ast.IfExp)) and id(node.test) not in skipped:
            yield site(node.test, f"not ({ast.unparse(node.test)})", "condition negated")
        if isinstance(node, ast.comprehension):
            for condition in node.ifs:
                yield site(condition, f"not ({ast.unparse(condition)})", "condition negated")
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            yield site(node, "pass", "call dropped")


def _clipped(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(site: Site, source: str) -> tuple[str, int]:
    """A site's id without its file, `<kind>: <code> in <its line>`, and its line number."""
    data = source.encode()
    before = data[site.start : site.end].decode()
    number = data[: site.start].count(b"\n") + 1
    line = source.splitlines()[number - 1].strip()
    code = _clipped(before)
    return f"{site.kind}: {code}" + ("" if code == _clipped(line) else f" in {_clipped(line)}"), number


def fresh(site: Site, source: str, mutant_id: str | None = None) -> Mutant:
    """The site as a mutant (the whole file, before and after); its id names the file, the code it changes, its
    line and how (stable when lines move)."""
    data = source.encode()
    mutated = (data[: site.start] + site.replacement.encode() + data[site.end :]).decode()
    description, number = describe(site, source)
    return Mutant(
        site.file,
        source,
        mutated,
        f"line {number}: {description}",
        id=mutant_id or f"{site.file}: {description}",
        whole_file=True,
    )


def every_site(root: Path = REPOSITORY, scope: Sequence[str] = SCOPE) -> list[tuple[str, Site, str]]:
    """(id, site, source) of every fresh mutant in `scope`'s files; equal ids in one file are numbered `#2`, `#3`…
    in the order of the file."""
    files = sorted(
        path
        for entry in scope
        for path in ([root / entry] if entry.endswith(".py") else (root / entry).rglob("*.py"))
        if path.name != "__init__.py"
    )
    found: list[tuple[str, Site, str]] = []
    for path in files:
        source, seen = path.read_text(), collections.Counter[str]()
        for site in sorted(sites(str(path.relative_to(root)), source), key=lambda s: (s.start, s.end, s.kind)):
            base = f"{site.file}: {describe(site, source)[0]}"
            seen[base] += 1
            found.append((base if seen[base] == 1 else f"{base} #{seen[base]}", site, source))
    return found


def sample(count: int, seed: int, root: Path = REPOSITORY, scope: Sequence[str] = SCOPE) -> list[Mutant]:
    """`count` fresh mutants drawn with `seed` from every site in `scope`'s files (the same tree gives the same ones)."""
    chosen = random.Random(seed).sample(every_site(root, scope), count)
    return [fresh(site, source, mutant_id) for mutant_id, site, source in chosen]


# --- running ------------------------------------------------------------------------------------------


def copy_tree(root: Path, target: Path) -> None:
    """The tree's tracked and unignored files (the working tree as it is, uncommitted changes too), as a git
    repository whose one commit is them (some tests clone the project)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git = ["git", "-c", "user.name=mutation", "-c", "user.email=mutation@localhost"]
    for command in (["init", "--quiet"], ["add", "-A"], ["commit", "--quiet", "-m", "the tree under mutation"]):
        subprocess.run([*git, *command], cwd=target, check=True, capture_output=True)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


class Runner:
    """One copy of the tree; each mutant is written into it, its tests run, and the file restored."""

    def __init__(self, root: Path = REPOSITORY) -> None:
        self.root = root
        self.directory = Path(tempfile.mkdtemp(prefix="ameide-mutation-"))
        copy_tree(root, self.directory)
        self.environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(self.directory), str(self.directory / "tests")]),
            "PYTHONDONTWRITEBYTECODE": "1",  # a restored file never meets a cached mutant
        }
        if (root / "ameide_secrets").is_dir():
            sys.path.insert(0, str(root))
            from ameide_secrets.offline.crd_schema import crds_dir

            self.environment.setdefault("ESO_CRDS_DIR", str(crds_dir(root)))
        self.passing: dict[tuple[str, ...], bool] = {}

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def pytest(self, tests: tuple[str, ...]) -> str:
        """killed (they fail), survived (they pass) or timeout."""
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
        try:
            completed = subprocess.run(
                command,
                cwd=self.directory,
                env=self.environment,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
                preexec_fn=_limit_memory,
            )
        except subprocess.TimeoutExpired:
            return "timeout"
        return "survived" if completed.returncode == 0 else "killed"

    def baseline(self, tests: tuple[str, ...]) -> None:
        if tests not in self.passing:
            self.passing[tests] = self.pytest(tests) == "survived"
        if not self.passing[tests]:
            raise SystemExit(f"the tests {' '.join(tests)} fail on the unmutated tree: fix them before a mutation run")

    def run(self, mutant: Mutant) -> Outcome:
        self.baseline(mutant.selection)
        path = self.directory / mutant.file
        original = path.read_text()
        started = time.monotonic()
        try:
            path.write_text(mutant.replacement if mutant.whole_file else apply(original, mutant))
            verdict = self.pytest(mutant.selection)
        finally:
            path.write_text(original)
        return Outcome(mutant, verdict, time.monotonic() - started)


def score(outcomes: Sequence[Outcome]) -> tuple[int, int]:
    """(killed, scored): timeouts count as killed, equivalent mutants are not scored."""
    scored = [o for o in outcomes if o.verdict != "equivalent"]
    return sum(o.verdict in {"killed", "timeout"} for o in scored), len(scored)


def run_all(runner: Runner, mutants: Sequence[Mutant], equivalent: dict[str, str], title: str) -> tuple[int, int]:
    outcomes = []
    for number, mutant in enumerate(mutants, 1):
        outcome = Outcome(mutant, "equivalent") if mutant.id in equivalent else runner.run(mutant)
        outcomes.append(outcome)
        note = f"  ({equivalent[mutant.id]})" if outcome.verdict == "equivalent" else ""
        print(f"[{number}/{len(mutants)}] {outcome.verdict:10} {outcome.seconds:5.1f}s  {mutant.id}{note}", flush=True)
    killed, scored = score(outcomes)
    survivors = [o.mutant.id for o in outcomes if o.verdict == "survived"]
    percent = 100 * killed / scored if scored else 100.0
    print(f"{title}: {killed} of {scored} mutants killed ({percent:.0f} %)" + (", survivors:" if survivors else ""))
    for survivor in survivors:
        print(f"  survived: {survivor}")
    return killed, scored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.mutation", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, metavar="N", help="also N fresh mutants from the syntax trees")
    parser.add_argument("--seed", type=int, default=26, help="the fresh sample's seed (default 26)")
    parser.add_argument("--no-listed", dest="listed", action="store_false", help="skip the listed mutants")
    parser.add_argument("--only", metavar="TEXT", action="append", help="only the mutants whose id contains TEXT (repeatable)")
    parser.add_argument("--show", action="store_true", help="print the mutants (and their tests) without running them")
    parser.add_argument("--min-score", type=float, default=90, help="exit 1 below this percentage (default 90)")
    options = parser.parse_args(argv)
    listing = load()
    runs = []
    if options.listed:
        runs.append(("listed", listing.mutants))
    if options.sample:
        runs.append((f"fresh sample (N={options.sample}, seed {options.seed})", sample(options.sample, options.seed)))
    runs = [(title, [m for m in mutants if not options.only or any(t in m.id for t in options.only)]) for title, mutants in runs]
    if options.show:
        for title, mutants in runs:
            print(f"== {title}")
            for mutant in mutants:
                print(f"{mutant.id}\n    tests: {' '.join(mutant.selection)}")
        return 0
    for mutant in listing.mutants:  # a stale snippet is a broken list, not a killed mutant
        apply((REPOSITORY / mutant.file).read_text(), mutant)
    runner = Runner()
    failed = False
    try:
        for title, mutants in runs:
            killed, scored = run_all(runner, mutants, listing.equivalent, title)
            failed |= scored > 0 and 100 * killed < options.min_score * scored
    finally:
        runner.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
