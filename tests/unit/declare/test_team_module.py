"""Team modules are data: evaluated from their syntax tree, never executed (a PR is untrusted code)."""

from __future__ import annotations

import ast
import os
import textwrap
from pathlib import Path

import pytest

from ameide_secrets.declare import team_module
from ameide_secrets.declare.inventory import DeclarationErrors
from ameide_secrets.project import REPOSITORY

from helpers import discover, read_module_bounded

HEADER = "from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs\n"

WORKLOAD = """
WORKLOAD = WorkloadSecretsArgs(
    workload="plausible", team="analytics", namespace="ameide", rollout="local",
    external_secrets=[ExternalSecretSpec(name="plausible-secrets", data={"A": "plausible/a"})],
)
"""

# Each tries to run code, read the environment or reach outside the module; {marker} is a file
# the attack would create. Line 2 (after the import) is where each is refused.
HOSTILE = {
    "import": "import os; os.system('touch {marker}')",
    "import-from": "from os import system",
    "dunder-import": "X = __import__('os').system('touch {marker}')",
    "open": "X = open('{marker}', 'w')",
    "eval": "X = eval(\"open('{marker}', 'w')\")",
    "exec": "X = exec(\"open('{marker}', 'w')\")",
    "fstring-call": "X = f\"{{open('{marker}', 'w')}}\"",
    "subclasses": "X = ().__class__.__bases__[0].__subclasses__()",
    "getattr-builtins": "X = getattr(__builtins__, 'open')('{marker}', 'w')",
    "function-def": "def f():\n    open('{marker}', 'w')",
    "class-def": "class C:\n    X = open('{marker}', 'w')",
    "lambda": "X = (lambda: open('{marker}', 'w'))()",
    "cross-module": "from workloads.identity.keycloak import WORKLOAD as OTHER",
    "environ": "from os import environ",
    "environ-in-message": "X = WorkloadSecretsArgs(workload=environ['AMEIDE_CANARY'])",
    "platform-module": "from declarations.settings import REPOSITORY",
    "components-attribute": "from components import spec",
    "model-attribute": "X = RemoteRef.model_construct(key='x')",
    "walrus": "X = (Y := open('{marker}', 'w'))",
    "comprehension": "X = [open('{marker}', 'w') for _ in 'a']",
    "global": "global WORKLOAD",
    "decorator-ish-call": "X = print('{marker}')",
    "relative-import": "from .components import RemoteRef",
    "model-alias": "from components import RemoteRef as open",
    "star-import": "from components import *",
    "dict-unpack": "X = {{**globals()}}",
    "subscript": "X = ['a'][0]",
    "if": "if True:\n    open('{marker}', 'w')",
    "try": "try:\n    open('{marker}', 'w')\nexcept Exception:\n    pass",
    "with": "with open('{marker}', 'w'):\n    pass",
    "expression-statement": "open('{marker}', 'w')",
    "fstring-conversion": "X = f'{{\"a\"!r}}'",
    "fstring-format-spec": "X = f'{{\"a\":>9}}'",
    "shadow-model": "RemoteRef = 1",
    "dunder-assign": "__builtins__ = 1",
    "float": "X = 1.5",
    "bytes": "X = b'a'",
    "multiply": "X = 'a' * 10",
}
ONLY = "only WorkloadSecretsArgs, ExternalSecretSpec, RemoteRef"
# The construct each is refused as: its own check, not another one that happens to come first (with its own
# check removed, an attack must pass, and this test fail).
REFUSED_AS = {
    "import": "import", "import-from": "import from os", "dunder-import": "call", "open": "call of 'open'",
    "eval": "call of 'eval'", "exec": "call of 'exec'", "fstring-call": "call of 'open'", "subclasses": "call",
    "getattr-builtins": "call", "function-def": "function definition", "class-def": "class definition", "lambda": "call",
    "cross-module": "import from workloads.identity.keycloak", "environ": "import from os", "environ-in-message": "subscript",
    "platform-module": "import from declarations.settings", "components-attribute": f"import of 'spec' ({ONLY})",
    "model-attribute": "call", "walrus": "walrus (:=)", "comprehension": "comprehension", "global": "global",
    "decorator-ish-call": "call of 'print'", "relative-import": "import from .components", "model-alias": "import alias 'open'",
    "star-import": f"import of '*' ({ONLY})", "dict-unpack": "unpacking (**)", "subscript": "subscript", "if": "if statement",
    "try": "try statement", "with": "with statement", "expression-statement": "expression statement",
    "fstring-conversion": "f-string conversion or format spec", "fstring-format-spec": "f-string conversion or format spec",
    "shadow-model": "assignment to 'RemoteRef'", "dunder-assign": "assignment to '__builtins__'", "float": "literal float",
    "bytes": "literal bytes", "multiply": "operator Mult",
}  # fmt: skip


def problems(tree: Path) -> list[str]:
    with pytest.raises(DeclarationErrors) as caught:
        discover(tree)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_read_when_module_hostile_then_refused_at_its_line_and_nothing_runs(
    write_module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attack: str
) -> None:
    canary = "canary-" + os.urandom(8).hex()
    monkeypatch.setenv("AMEIDE_CANARY", canary)
    marker = tmp_path / "pwned"
    source = HEADER + HOSTILE[attack].format(marker=marker) + "\n" + WORKLOAD
    tree = write_module("analytics/plausible.py", source)
    lines = problems(tree)
    assert lines, attack
    assert lines[0].startswith(
        f"workloads/analytics/plausible.py:2 (workload plausible): {REFUSED_AS[attack]} is not allowed in a team module "
        "(team modules are data:"
    )
    assert not marker.exists()
    assert canary not in "\n".join(lines)


def test_read_when_data_constructs_then_same_declaration_as_literals() -> None:
    source = (
        '"""The docstring is allowed."""\n'
        + HEADER
        + textwrap.dedent(
            """
        NAME = "plausible"
        PREFIX = NAME + "/"
        KEYS = ("a", "b")
        DB = {"key": f"{PREFIX}db", "property": "url", "decodingStrategy": "Base64"}

        WORKLOAD = WorkloadSecretsArgs(
            workload=NAME,
            team="analytics",
            namespace="ameide",
            rollout="staging",
            external_secrets=[
                ExternalSecretSpec(
                    name=f"{NAME}-secrets",
                    data={"DATABASE_URL": DB, "TOTP": RemoteRef(key=PREFIX + "totp", property="key")},
                    data_from=[PREFIX + "all"],
                ),
            ]
            + [ExternalSecretSpec(name=NAME + "-extra", data={"X": f"{NAME}/x"})],
            existing_secrets=["postgres-ameide-auth"],
        )
        """
        )
    )
    literal = HEADER + textwrap.dedent(
        """
        WORKLOAD = WorkloadSecretsArgs(
            workload="plausible",
            team="analytics",
            namespace="ameide",
            rollout="staging",
            external_secrets=[
                ExternalSecretSpec(
                    name="plausible-secrets",
                    data={
                        "DATABASE_URL": RemoteRef(key="plausible/db", property="url", decoding_strategy="Base64"),
                        "TOTP": RemoteRef(key="plausible/totp", property="key"),
                    },
                    data_from=["plausible/all"],
                ),
                ExternalSecretSpec(name="plausible-extra", data={"X": "plausible/x"}),
            ],
            existing_secrets=["postgres-ameide-auth"],
        )
        """
    )
    read, expected = team_module.read(source, "m.py"), team_module.read(literal, "m.py")
    assert (read.line_problems, read.field_problems) == ([], [])
    assert read.workload == expected.workload is not None


def test_read_when_every_repository_module_then_no_problem() -> None:
    for path in sorted((REPOSITORY / "workloads").glob("*/*.py")):
        data = team_module.read(path.read_text(), path.name)
        assert (data.line_problems, data.field_problems) == ([], []), path
        assert data.workload is not None


def test_read_when_several_statements_refused_then_each_line_reported(write_module) -> None:
    source = HEADER + "import os\nX = open('x')\nY = X\n" + WORKLOAD
    lines = problems(write_module("analytics/plausible.py", source))
    # Y uses X, which was refused: no third, confusing line about X.
    assert [line.split(": ", 1)[0] for line in lines] == [
        "workloads/analytics/plausible.py:2 (workload plausible)",
        "workloads/analytics/plausible.py:3 (workload plausible)",
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("UNDEFINED", "name 'UNDEFINED' is not assigned earlier in this module"),
        ("'a' + 1", "'+' joins two strings, integers, lists or tuples, not str and int"),
        ("{1: 'a'}", "mapping key 1 must be a string"),
        ("f'{[1]}'", "f-string value must be a string or an integer, got list"),
        # A bool is an int to Python, and would render as `True`.
        ("f'{True}'", "f-string value must be a string or an integer, got bool"),
        ("f'{None}'", "f-string value must be a string or an integer, got NoneType"),
        ("RemoteRef", "RemoteRef without a call is not allowed in a team module"),
        ("RemoteRef('plausible/a')", "positional argument to RemoteRef is not allowed in a team module"),
    ],
)
def test_read_when_value_cannot_be_evaluated_then_line_and_reason(expression: str, message: str) -> None:
    data = team_module.read(HEADER + f"X = {expression}\n", "m.py")
    assert [(p.line, p.message.split(" (team modules")[0]) for p in data.line_problems] == [(2, message)]
    assert data.workload is None


def test_read_when_model_called_without_import_then_told_to_import() -> None:
    data = team_module.read("X = RemoteRef(key='a/b')\n", "m.py")
    assert [p.message for p in data.line_problems] == ["RemoteRef must be imported first: from components import RemoteRef"]


def test_security_doc_when_it_counts_hostile_modules_then_the_count_is_this_suite() -> None:
    assert f"({len(HOSTILE)} modules;" in (REPOSITORY / "docs" / "security.md").read_text()


def test_read_when_module_doubles_a_value_line_after_line_then_refused_before_memory_runs_out() -> None:
    """In a child process of bounded memory: with the bound gone, the reader fails there at once (MemoryError) instead
    of taking the machine's memory (A63 would be 8 * 2**63 characters)."""
    lines = ["A0 = 'xxxxxxxx'"] + [f"A{i} = A{i - 1} + A{i - 1}" for i in range(1, 64)]
    problems = read_module_bounded(HEADER + "\n".join(lines) + "\n")
    # A10 is the first longer than the bound (8 * 2**10); what uses it reports nothing more.
    assert [(line, message.split(" (")[0]) for line, message in problems] == [
        (12, f"string longer than {team_module.MAX_STRING_LENGTH} characters")
    ]


def _lines(*lines: str) -> str:
    return HEADER + "".join(f"{line}\n" for line in lines)


LONG_KEY = "k" * 1000
# One module past each bound, among them every attack that crashed, hung or exhausted the reader before it
# was bounded: (source, the line refused, how the refusal starts). HEADER is line 1.
BOUNDED = {
    "plus-chain-on-one-line": (
        _lines("A = 'a'", "X = " + "+".join(["A"] * 1000)),
        3,
        f"more than {team_module.MAX_OPERATORS} operators",
    ),
    "plus-chain-over-lines": (
        _lines("X = (", *["'a' +"] * 2000, "'a')"),
        2 + 257,
        f"more than {team_module.MAX_OPERATORS} operators",
    ),
    "chained-calls": (_lines("X = RemoteRef" + "()" * 300), 2, f"more than {team_module.MAX_OPERATORS} operators"),
    "unary-chain": (_lines("X = " + "-" * 300 + "1"), 2, f"more than {team_module.MAX_OPERATORS} operators"),
    "nested-lists": (_lines("X = " + "[" * 100 + "]" * 100), 2, f"nested more than {team_module.MAX_DEPTH} deep"),
    "nested-dicts": (_lines("X = " + "{'a': " * 100 + "1" + "}" * 100), 2, f"nested more than {team_module.MAX_DEPTH} deep"),
    "nested-parentheses": (_lines("X = " + "(" * 100 + "1" + ")" * 100), 2, f"nested more than {team_module.MAX_DEPTH} deep"),
    "nested-calls": (
        _lines("X = " + "RemoteRef(key=" * 40 + "'a'" + ")" * 40),
        2,
        f"nested more than {team_module.MAX_DEPTH} deep",
    ),
    "nested-f-string-fields": (
        _lines("X = f'{" + "[" * 60 + "]" * 60 + "}'"),
        2,
        f"nested more than {team_module.MAX_DEPTH} deep",
    ),
    "plus-chain-in-f-string": (
        _lines("A = 'a'", "X = f'{" + "+".join(["A"] * 1000) + "}'"),
        3,
        f"more than {team_module.MAX_OPERATORS} operators",
    ),
    "nested-blocks": (
        HEADER + "".join(" " * i + "if X:\n" for i in range(40)) + " " * 40 + "pass\n",
        2 + 33,
        f"nested more than {team_module.MAX_DEPTH} deep",
    ),
    # A field holding a triple-quoted string (with a lone quote in it) ends after it: the next field's nesting counts.
    "nested-lists-after-triple-quoted-string-in-f-string": (
        _lines("X = f\"{'''a'''}{'''a'b'''}{" + "[" * 40 + "1" + "]" * 40 + '}"'),
        2,
        f"nested more than {team_module.MAX_DEPTH} deep",
    ),
    # `{{` is a brace, not a field: the field right after it is still scanned.
    "nested-lists-after-an-escaped-brace-in-f-string": (
        _lines('X = f"{{{' + "[" * 40 + "1" + "]" * 40 + '}}}"'),
        2,
        f"nested more than {team_module.MAX_DEPTH} deep",
    ),
    "hex-literal-in-f-string": (
        _lines("X = f'{0x" + "f" * 3000 + "}'"),
        2,
        f"number literal is longer than {team_module.MAX_NUMBER_LENGTH} characters",
    ),
    "hex-literal-in-field": (
        _lines("X = RemoteRef(key=0x" + "f" * 3000 + ")"),
        2,
        f"number literal is longer than {team_module.MAX_NUMBER_LENGTH} characters",
    ),
    "integer-at-the-bound": (_lines(f"X = {team_module.MAX_INTEGER}"), 2, f"integer of {team_module.MAX_INTEGER:_} or more"),
    "integer-sum-past-the-bound": (
        _lines(f"X = {team_module.MAX_INTEGER - 1} + 1"),
        2,
        f"integer of {team_module.MAX_INTEGER:_} or more",
    ),
    "long-line": (
        _lines("X = 'a'", "Y = '" + "a" * 5000 + "'"),
        3,
        f"line is longer than {team_module.MAX_LINE_LENGTH} characters",
    ),
    "string-literal": (
        _lines("X = (", *[f"'{'a' * 4000}'"] * 10, ")"),
        3,
        f"string longer than {team_module.MAX_STRING_LENGTH} characters",
    ),
    "f-string-of-large-parts": (
        _lines(f"A = '{'a' * 4000}'", "X = f'{A}{A}{A}{A}'"),
        3,
        f"string longer than {team_module.MAX_STRING_LENGTH} characters",
    ),
    "list-entries": (_lines("X = [", *["1,"] * 1001, "]"), 2, f"list has more than {team_module.MAX_ENTRIES} entries"),
    "dict-entries": (
        _lines("X = {", *[f"'k{i}': 1," for i in range(1001)], "}"),
        2,
        f"dict has more than {team_module.MAX_ENTRIES} entries",
    ),
    "list-doubled-line-after-line": (
        _lines(
            "S0 = [ExternalSecretSpec(name='a', data={'A': 'plausible/a'})]",
            *[f"S{i} = S{i - 1} + S{i - 1}" for i in range(1, 44)],
            WORKLOAD.replace('[ExternalSecretSpec(name="plausible-secrets", data={"A": "plausible/a"})]', "S43"),
        ),
        2 + 10,
        f"list has more than {team_module.MAX_ENTRIES} entries",
    ),
    "self-doubling-nested-lists": (
        _lines(
            "A0 = ['x']", *[f"A{i} = [A{i - 1}, A{i - 1}]" for i in range(1, 41)], "WORKLOAD = WorkloadSecretsArgs(workload=A40)"
        ),
        2 + 15,
        f"the module's values add up to more than {team_module.MAX_CELLS} cells",
    ),
    "five-mb-string-literal": (_lines(f"X = '{'a' * 5_000_000}'"), None, f"is larger than {team_module.MAX_MODULE_BYTES} bytes"),
}


@pytest.mark.parametrize("attack", sorted(BOUNDED))
def test_read_when_module_breaks_a_bound_then_refused_at_its_line_naming_the_bound(attack: str) -> None:
    source, line, message = BOUNDED[attack]
    data = team_module.read(source, "m.py")
    assert data.workload is None
    [problem] = data.line_problems
    assert problem.line == line
    assert problem.message.startswith(message)
    assert team_module.BOUND in problem.message


@pytest.mark.parametrize("first_line", [True, False])
@pytest.mark.parametrize(("operators", "refused"), [(team_module.MAX_OPERATORS, False), (team_module.MAX_OPERATORS + 1, True)])
def test_read_when_a_line_has_operators_up_to_the_bound_then_accepted_and_one_more_refused(
    first_line: bool, operators: int, refused: bool
) -> None:
    """Exactly at the bound, on the module's first line (the count's start) or a later one."""
    line = "X = " + "+".join(["1"] * (operators + 1))
    data = team_module.read(line + "\n" if first_line else _lines(line), "m.py")
    assert [p.message.split(" (")[0] for p in data.line_problems] == (
        [f"more than {team_module.MAX_OPERATORS} operators nest one value"] if refused else []
    )


def test_find_modules_when_a_team_folder_holds_modules_folders_and_links_then_each_listed_with_why_not(tmp_path: Path) -> None:
    (tmp_path / "plausible.py").write_text(HEADER)
    (tmp_path / "_helpers.py").write_text("")
    (tmp_path / "umami.py").mkdir()
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "deep.py").write_text("")
    (tmp_path / "linked").symlink_to(tmp_path / "nested", target_is_directory=True)
    (tmp_path / "notes.txt").write_text("")
    found = {path.relative_to(tmp_path).as_posix(): (why or "").split(";")[0] for path, why in team_module.find_modules(tmp_path)}
    assert found == {
        "_helpers.py": "",
        "linked": "is a symbolic link",
        "nested/deep.py": "",
        "plausible.py": "",
        "umami.py": "is a folder named like a team module",
    }


def test_read_when_module_breaks_the_cells_bound_then_nothing_after_it_is_evaluated() -> None:
    source = BOUNDED["self-doubling-nested-lists"][0] + "import os\n"
    assert len(team_module.read(source, "m.py").line_problems) == 1


def test_read_when_a_huge_key_appears_many_times_then_problems_bounded_and_key_quoted_short() -> None:
    data = team_module.read(_lines(f"K = '{LONG_KEY}'", "X = {", *["K: 1,"] * 100, "}"), "m.py")
    first, *_, last = data.line_problems
    assert len(data.line_problems) == team_module.MAX_PROBLEMS + 1
    assert first.line == 5  # the second "K: 1," (HEADER, K, "X = {", the first)
    assert first.message == f"key {team_module._quote(LONG_KEY)} appears twice in one mapping; only one can be kept (remove one)"
    assert len(team_module._quote(LONG_KEY)) == team_module.MAX_QUOTE
    assert last.message.startswith(f"… {99 - team_module.MAX_PROBLEMS} more problems in this module")


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (HEADER.encode() + b"X = '\xff'\n", 2, f"is not UTF-8: byte 0xff at offset {len(HEADER) + 5} cannot be decoded"),
        (b"X = '" + b"a" * team_module.MAX_MODULE_BYTES + b"'\n", None, f"is larger than {team_module.MAX_MODULE_BYTES} bytes"),
    ],
)
def test_read_bytes_when_not_utf8_or_too_large_then_refused_naming_offset_or_bound(
    data: bytes, line: int | None, message: str
) -> None:
    [problem] = team_module.read_bytes(data, "m.py").line_problems
    assert (problem.line, problem.message.split(" (")[0]) == (line, message)


def test_read_when_nul_character_then_refused_at_its_line() -> None:
    [problem] = team_module.read(_lines("X = 'a'", "Y = 'a\0'"), "m.py").line_problems
    assert (problem.line, problem.message) == (3, "contains a NUL character; a team module is text")


@pytest.mark.parametrize("kind", ["link", "folder", "fifo", "too-large"])
def test_read_file_when_not_a_regular_module_then_refused_without_reading_it(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text(HEADER + WORKLOAD)
    path = tmp_path / "m.py"
    if kind == "link":
        path.symlink_to(outside)
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block without O_NONBLOCK
    else:
        path.write_text("X = 1\n" + "#" * team_module.MAX_MODULE_BYTES)
    [problem] = team_module.read_file(path, "m.py").line_problems
    expected = {
        "link": "is a symbolic link;",
        "folder": "is a folder named like a team module;",
        "fifo": "is not a regular file;",
        "too-large": f"is larger than {team_module.MAX_MODULE_BYTES} bytes",
    }[kind]
    assert problem.message.startswith(expected)


def test_read_file_when_the_reader_fails_unexpectedly_then_one_finding_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: str, filename: str) -> team_module.ModuleData:
        raise RuntimeError("a bug")

    monkeypatch.setattr(team_module, "read", broken)
    path = tmp_path / "m.py"
    path.write_text(HEADER + WORKLOAD)
    [problem] = team_module.read_file(path, "m.py").line_problems
    assert problem.message.startswith("could not be read as data (RuntimeError: a bug in the team-module reader")


@pytest.mark.parametrize("value", ["'x'", "f'{\"x\"}'"])
@pytest.mark.parametrize(("lines", "refused"), [(9, False), (10, True)])
def test_read_when_a_value_is_reused_up_to_the_cells_bound_then_an_f_string_costs_what_its_string_costs(
    value: str, lines: int, refused: bool
) -> None:
    """Each use of a name costs its value again. `A` holds 2 cells (one, and one per character), B = 100 uses of it
    holds 201, each line of 100 uses of B costs 20201 cells: 9 such lines fit in MAX_CELLS, 10 do not."""
    source = _lines(
        f"A = {value}", f"B = [{', '.join(['A'] * 100)}]", *(f"C{i} = [{', '.join(['B'] * 100)}]" for i in range(lines))
    )
    problems = [p.message.split(" (")[0] for p in team_module.read(source, "m.py").line_problems]
    assert problems == ([f"the module's values add up to more than {team_module.MAX_CELLS} cells"] if refused else [])


def test_clip_when_text_longer_than_the_limit_then_its_start_and_end_around_an_ellipsis() -> None:
    assert team_module._clip("0123456789", 5) == "01…89"
    assert team_module._clip("0123456789", 6) == "01…789"
    assert team_module._clip("01234", 5) == "01234"


@pytest.mark.parametrize(("dicts", "refused"), [(8, False), (9, True)])
def test_read_when_dict_literals_fill_the_rest_of_the_cells_bound_then_each_costs_one_cell_plus_its_entries(
    dicts: int, refused: bool
) -> None:
    """Nine lines of 20201 cells (as above) and lines of 1000 empty dicts, each dict one cell (2001 a line): eight
    such lines fit in MAX_CELLS, nine do not."""
    uses = ", ".join(["A"] * 100)
    fill = [f"C{i} = [{', '.join(['B'] * 100)}]" for i in range(9)]
    source = _lines("A = 'x'", f"B = [{uses}]", *fill, *(f"D{i} = [{', '.join(['{}'] * 1000)}]" for i in range(dicts)))
    problems = [p.message.split(" (")[0] for p in team_module.read(source, "m.py").line_problems]
    assert problems == ([f"the module's values add up to more than {team_module.MAX_CELLS} cells"] if refused else [])


@pytest.mark.parametrize(
    ("join", "cost"),
    # A literal costs a cell and one per character or entry (`'ab'` 3, `[1]` 3); each '+' a cell, and for
    # strings, lists and tuples one more per character or entry of what it joins.
    [
        ("1 + 2", 1 + 1 + 1),
        ("1 + 2 + 3", 5),
        ("'ab' + 'cd'", 3 + 3 + 5),
        ("'ab' + 'cd' + 'ef'", 11 + 3 + 7),
        ("[1] + [2]", 3 + 3 + 3),
    ],
)
def test_read_when_values_are_joined_then_each_join_costs_its_cells_against_the_bound(join: str, cost: int) -> None:
    """What MAX_CELLS counts for '+' (the bound's own tests above fill it with lists and names)."""
    reader = team_module._Reader()
    reader.module(ast.parse(f"J = {join}\n"))
    assert (reader.cells, reader.line_problems) == (cost, [])
