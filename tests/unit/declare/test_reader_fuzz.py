"""The team-module reader is total: whatever a PR holds, findings or a declaration, never a traceback, within a
deadline and with short messages (property-based; derandomized, so CI sees the same examples every run)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ameide_secrets.declare import team_module
from ameide_secrets.declare.team_module import ModuleData

HEADER = "from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs\n"
WORKLOAD = (
    "WORKLOAD = WorkloadSecretsArgs(\n"
    '    workload="plausible", team="analytics", namespace="ameide", rollout="local",\n'
    '    external_secrets=[ExternalSecretSpec(name=f"{{NAME}}-secrets", data={{"A": {key}}})],\n'
    ")\n"
)
FUZZ = settings(database=None, derandomize=True, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(["A", "B", "NAME", "WORKLOAD", "X", "__import__", "RemoteRef"])
sizes = st.integers(min_value=0, max_value=6000)


@st.composite
def nesting(draw: st.DrawFn) -> str:
    """Brackets, calls, dicts and f-string fields inside each other, up to well past MAX_DEPTH."""
    levels = draw(st.lists(st.sampled_from(["[]", "()", "{'k': }", "RemoteRef(key=)", "f'{}'", 'f"{}"']), max_size=80))
    inner = draw(st.sampled_from(["1", "'a'", "A", ""]))
    for level in reversed(levels):
        cut = len(level) - (2 if level.startswith("f") else 1)
        inner = level[:cut] + inner + level[cut:]
    return f"X = {inner}"


@st.composite
def chain(draw: st.DrawFn) -> str:
    """`a + b + …` on one line or over lines, inside an f-string field or not."""
    terms = [draw(st.sampled_from(["A", "'a'", "1", "[A]", "(A)"])) for _ in range(draw(st.integers(1, 8)))]
    terms *= draw(st.integers(1, 800))  # past what ast.parse could nest without the scan
    joined = (" +\n" if draw(st.booleans()) else " + ").join(terms)
    return draw(st.sampled_from([f"X = ({joined})", f"X = f'{{{joined}}}'", f"X = {joined}"]))


@st.composite
def literal(draw: st.DrawFn) -> str:
    """Numbers and strings from empty to past every bound."""
    size = draw(sizes)
    text = draw(st.sampled_from(["0x" + "f" * size, "9" * max(size, 1), f"'{'a' * size}'", f"f'{'{A}' * (size // 3)}'"]))
    return f"X = {text}"


@st.composite
def doubling(draw: st.DrawFn) -> str:
    """A value doubled line after line, by reuse of the previous name."""
    base = draw(st.sampled_from(["'x'", "['x']", "[RemoteRef(key='plausible/a')]", "{'k': 'v'}"]))
    step = draw(st.sampled_from(["[{0}, {0}]", "{0} + {0}", "f'{{{0}}}{{{0}}}'", "{{'a': {0}, 'b': {0}}}"]))
    lines = [f"D0 = {base}"] + [f"D{i} = " + step.format(f"D{i - 1}") for i in range(1, draw(st.integers(1, 45)))]
    return "\n".join(lines)


@st.composite
def duplicate_keys(draw: st.DrawFn) -> str:
    key = draw(st.sampled_from(["'k'", "A", "1", "[A]"]))
    return "X = {" + ", ".join([f"{key}: 1"] * draw(st.integers(2, 300))) + "}"


@st.composite
def blocks(draw: st.DrawFn) -> str:
    return "".join(" " * i + "if X:\n" for i in range(draw(st.integers(1, 60)))) + " " * 60 + "pass"


# Any token Python knows, and some it does not: syntax errors and the tokenizer's error paths.
SOUP = ["(", ")", "[", "]", "{", "}", ",", ":", "=", "+", "-", ".", "'", '"', "f'", "'''", "\\", "\n", "#", " ", "\t"]
SOUP += ["lambda", "if", "else", "not", "import", "1", "0x", "A", "'a'", "{A}", "!r", "\x0c", "\r", "é", "\0", "\ufeff"]
soup = st.lists(st.sampled_from(SOUP), max_size=60).map("".join)
hostile = st.sampled_from(
    ["import os", "X = A.b", "X = [x for x in A]", "def f():\n    pass", "X = lambda: 1", "X = open('x')", "X = __import__('os')"]
)
valid = st.sampled_from(["NAME = 'plausible'", "A = NAME + '/'", "B = [A, A]", "X = {'key': A + 'y', 'property': 'p'}"])
statement = st.one_of(valid, hostile, nesting(), chain(), literal(), doubling(), duplicate_keys(), blocks(), soup)


@st.composite
def module(draw: st.DrawFn) -> str:
    """A team module mixing valid declarations with hostile constructs, possibly cut or spliced."""
    parts = draw(st.lists(statement, max_size=6))
    if draw(st.booleans()):
        parts.append(WORKLOAD.format(key=draw(st.sampled_from(['"plausible/a"', "A + 'a'", "RemoteRef(key=A + 'b')", "X"]))))
    text = (HEADER if draw(st.booleans()) else "") + "\n".join(parts) + "\n"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(soup) + text[at + draw(st.integers(0, 3)) :]
    return text


def check(data: ModuleData) -> None:
    """Findings or a declaration, never both, never neither; few findings, each short."""
    found = data.line_problems + data.field_problems
    assert (data.workload is None) == bool(found)
    assert len(found) <= team_module.MAX_PROBLEMS + 1
    # The tokens are bounded before parsing: the net under ast.parse never catches anything.
    assert not any(finding.message.startswith("too deeply nested to parse") for finding in found)
    for finding in found:
        assert len(finding.message) <= team_module.MAX_MESSAGE_LENGTH
        assert len(finding.field or "") <= team_module.MAX_MESSAGE_LENGTH
    assert data.workload_name is None or len(data.workload_name) <= team_module.MAX_QUOTE


@settings(FUZZ, max_examples=300)
@given(st.binary(max_size=4096))
def test_read_bytes_when_arbitrary_bytes_then_findings_or_declaration_never_raises(data: bytes) -> None:
    check(team_module.read_bytes(data, "m.py"))


@settings(FUZZ, max_examples=1000)
@given(module())
def test_read_when_hostile_module_then_findings_or_declaration_never_raises(source: str) -> None:
    check(team_module.read(source, "m.py"))


@settings(FUZZ, max_examples=200)
@given(
    module(), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\0"])), max_size=3)
)
def test_read_file_when_hostile_module_bytes_then_findings_or_declaration_never_raises(
    source: str, splices: list[tuple[int, bytes]]
) -> None:
    data = source.encode()
    for at, splice in splices:
        data = data[: at % (len(data) + 1)] + splice + data[at % (len(data) + 1) :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.py"
        path.write_bytes(data)
        check(team_module.read_file(path, "m.py"))


@settings(FUZZ, max_examples=50)
@given(st.lists(valid, max_size=6), st.sampled_from(['"plausible/a"', "A + 'a'", "RemoteRef(key=A + 'b')", "X"]))
def test_read_when_only_data_constructs_then_a_declaration(statements: list[str], key: str) -> None:
    source = HEADER + "\n".join(["NAME = 'plausible'", "A = NAME + '/'", "X = {'key': A + 'x'}", *statements]) + "\n"
    data = team_module.read(source + WORKLOAD.format(key=key), "m.py")
    assert (data.line_problems, data.field_problems) == ([], [])
    assert data.workload is not None
