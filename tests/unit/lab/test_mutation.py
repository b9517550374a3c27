"""lab/mutation.py: the listed mutants still apply, fresh ones are valid code, and a run tells killed from survived."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from lab import mutation

MODULE = '''"""A module under mutation."""


def double(x: int) -> int:
    """Twice x."""
    if x < 0 and x != -1:
        return -double(-x)
    return x * 2


def check(x: int) -> None:
    print(x)
    assert not x == 3, True
'''


@pytest.fixture(scope="module")
def listing() -> mutation.Listing:
    return mutation.load()


def test_listed_mutants_when_loaded_then_each_applies_once_and_has_tests(listing: mutation.Listing) -> None:
    """A stale snippet would be a mutant that changes nothing (or fails to apply): the list breaks here, in make test."""
    assert len(listing.mutants) >= 80
    for mutant in listing.mutants:
        source = (mutation.REPOSITORY / mutant.file).read_text()
        mutated = mutation.apply(source, mutant)
        assert mutated != source, mutant.id
        ast.parse(mutated)  # a syntax error would be "killed" by any test
        assert all((mutation.REPOSITORY / t).exists() for t in mutant.selection), mutant.id
    assert len({m.id for m in listing.mutants}) == len(listing.mutants)


def test_sites_when_a_module_has_conditions_then_each_fresh_mutant_is_valid_and_changes_it() -> None:
    kinds = []
    for site in mutation.sites("m.py", MODULE):
        mutant = mutation.fresh(site, MODULE)
        assert mutant.replacement != MODULE
        ast.parse(mutant.replacement)
        kinds.append(site.kind)
    assert sorted(set(kinds)) == sorted(
        {
            "Lt -> GtE",
            "NotEq -> Eq",
            "Eq -> NotEq",
            "and <-> or",
            "not dropped",
            "bool flipped",
            "integer + 1",
            "condition negated",
            "call dropped",
        }
    )
    # Docstrings and annotations are never mutated.
    assert not any('"""' in mutation.fresh(s, MODULE).why for s in mutation.sites("m.py", MODULE))


def test_sample_when_same_seed_then_same_mutants_and_another_seed_differs() -> None:
    first, again, other = (mutation.sample(20, seed) for seed in (26, 26, 27))
    assert [m.id for m in first] == [m.id for m in again]
    assert [m.id for m in first] != [m.id for m in other]
    assert all(m.file.startswith(mutation.SCOPE) for m in first)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small git tree: one module and the test that pins its behaviour."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(MODULE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_m.py").write_text(
        "from pkg.m import double\n\n\ndef test_double() -> None:\n    assert double(2) == 4\n    assert double(-3) == -6\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    subprocess.run(["git", "init", "--quiet"], cwd=tmp_path, check=True)
    return tmp_path


def test_runner_when_a_mutant_changes_tested_behaviour_then_killed_and_a_no_op_survives(project: Path) -> None:
    runner = mutation.Runner(project)
    try:
        tests = ("tests/test_m.py",)
        changed = mutation.Mutant("pkg/m.py", "return x * 2", "return x + 2", "adds instead", tests)
        no_op = mutation.Mutant("pkg/m.py", "return x * 2", "return 2 * x", "the same product", tests)
        assert runner.run(changed).verdict == "killed"
        assert runner.run(no_op).verdict == "survived"
        # The mutants were applied to the copy only.
        assert (project / "pkg" / "m.py").read_text() == MODULE
        assert (runner.directory / "pkg" / "m.py").read_text() == MODULE
    finally:
        runner.close()
    assert not runner.directory.exists()


def test_score_when_equivalent_mutants_then_left_out_and_timeouts_count_as_killed() -> None:
    def outcome(verdict: str) -> mutation.Outcome:
        return mutation.Outcome(mutation.Mutant("f.py", "a", "b", verdict), verdict)

    outcomes = [outcome(v) for v in ("killed", "timeout", "survived", "equivalent")]
    assert mutation.score(outcomes) == (2, 3)


def test_testing_doc_when_it_states_the_listed_score_then_it_counts_this_list(listing: mutation.Listing) -> None:
    assert (
        f"| listed (`lab/mutants.yaml`) | {len(listing.mutants)} |" in (mutation.REPOSITORY / "docs" / "testing.md").read_text()
    )
