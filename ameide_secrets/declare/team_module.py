"""Read a team module as data: parse it, evaluate an allow-listed subset, never execute it.

A team module arrives in a pull request before anyone has reviewed it, and previews run in CI:
executing it would run a stranger's code next to CI's credentials. So the module is parsed with
`ast` and only these constructs are evaluated, in this module, by this code:

- a docstring; `from components import` of the declaration models (`MODELS`);
- module-level `NAME = <expression>` assignments;
- expressions: str / int / bool / None literals, lists, tuples, dicts, names assigned earlier in
  the module, f-strings over those (no conversions or format specs), `+` of values of one kind
  (str, int, list, tuple), and calls of the declaration models with keyword arguments.

Anything else is refused with its line and never evaluated. Errors quote only the module's own
source (its literals), never the environment. Pure: no `pulumi` import.

The reader is total and bounded: whatever bytes a PR holds, it returns a declaration or findings,
never a traceback, in time and memory linear in the bounds below. Each bound is checked before
what it bounds is built: the file's size before it is read, nesting and operator chains on the
tokens before `ast.parse` (which would otherwise recurse), every value's size while it is built.
"""

from __future__ import annotations

import ast
import errno
import io
import os
import re
import stat
import tokenize
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ameide_secrets.declare.contract import (
    DeclarationError,
    ExternalSecretSpec,
    RemoteRef,
    WorkloadSecretsArgs,
    problems_from_validation_error,
)
from ameide_secrets.findings import Finding

# The bounds (docs/security.md, "The reader's bounds"). Each is far beyond what a declaration needs
# and small enough that a hostile module costs CI a fraction of a second and a few MiB.
MAX_MODULE_BYTES = 64 * 1024
"""A team module's size in bytes, checked before it is read."""
MAX_LINE_LENGTH = 4096
"""Characters in one line."""
MAX_DEPTH = 32
"""Nesting: open brackets (calls, lists, dicts, f-string fields) and indented blocks."""
MAX_OPERATORS = 256
"""Operators along one nesting path (`a + b + …`, `.`, chained calls): each nests the syntax tree one deeper."""
MAX_NUMBER_LENGTH = 32
"""Characters in one number literal (`0x…` of thousands of digits cannot become a string)."""
MAX_STRING_LENGTH = 4096
"""Characters in any string, a literal or one built by `+` or an f-string."""
MAX_INTEGER = 10**18
"""Every integer is below it."""
MAX_ENTRIES = 1000
"""Entries of one list, tuple or dict, a literal or one built by `+`."""
MAX_CELLS = 200_000
"""All values a module builds: a cell per value and per character, and a name costs its value's cells
each time it is used (as if written out), so doubling a value line after line is caught in linear time."""
MAX_PROBLEMS = 50
"""Findings per module; the rest are counted in one more."""
MAX_QUOTE = 80
"""Characters of a value quoted in a message."""
MAX_MESSAGE_LENGTH = 500
"""Characters of a message or a field path."""

BOUND = "the bound for a team module"

MODELS: dict[str, type[BaseModel]] = {
    "WorkloadSecretsArgs": WorkloadSecretsArgs,
    "ExternalSecretSpec": ExternalSecretSpec,
    "RemoteRef": RemoteRef,
}
"""The only names a team module may import (from `components`) and the only things it may call."""

DATA_ONLY = (
    "team modules are data: literals, lists, dicts, names, f-strings, '+' and keyword calls of "
    f"{', '.join(MODELS)}; see docs/consuming-vault-secrets.md"
)

# What a refused node is called in the message; anything unlisted is named by its ast class.
_CONSTRUCTS: dict[type[ast.AST], str] = {
    ast.Import: "import",
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.FunctionDef: "function definition",
    ast.AsyncFunctionDef: "function definition",
    ast.ClassDef: "class definition",
    ast.Lambda: "lambda",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.NamedExpr: "walrus (:=)",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.Starred: "unpacking (*)",
    ast.If: "if statement",
    ast.IfExp: "conditional expression",
    ast.For: "for loop",
    ast.While: "while loop",
    ast.With: "with statement",
    ast.Try: "try statement",
    ast.Expr: "expression statement",
    ast.AugAssign: "augmented assignment",
    ast.AnnAssign: "annotated assignment",
    ast.Set: "set",
    ast.BoolOp: "boolean operator",
    ast.Compare: "comparison",
    ast.UnaryOp: "unary operator",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.Delete: "del",
    ast.Assert: "assert",
    ast.Raise: "raise",
}


class RefusedError(Exception):
    """A construct outside the data-only subset, or a value that cannot be evaluated."""

    def __init__(self, node: ast.AST, message: str):
        self.line = getattr(node, "lineno", 1)
        super().__init__(message)


class _ExhaustedError(RefusedError):
    """The module's values outgrew MAX_CELLS: nothing after it is evaluated."""


@dataclass
class ModuleData:
    """What a team module declares, or every problem found reading it."""

    workload: WorkloadSecretsArgs | None
    line_problems: list[Finding]
    field_problems: list[Finding]
    """Validation problems with their field path from `WORKLOAD` (or the name a model was bound to) and line."""
    workload_name: str | None = None
    """The workload a failed `WorkloadSecretsArgs(...)` declared, when the rules (not the shape) failed."""
    lines: Mapping[str, int] = field(default_factory=dict)
    """Of a declaration read: each field path under `WORKLOAD` that the module writes (`_canonical`) -> its line."""


def _clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: its start and its end (where a message says how to fix it)."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "…" + text[len(text) - (limit - 1 - half) :]


def _quote(value: Any) -> str:
    """`value` as a message quotes it: a string or number in at most MAX_QUOTE characters, anything else by its kind."""
    if isinstance(value, str):
        return _clip(repr(value), MAX_QUOTE)
    if value is None or isinstance(value, int):
        return repr(value)  # every integer here is below MAX_INTEGER
    return f"({type(value).__name__})"


def _line(line: int | None, message: str) -> Finding:
    """A finding at a source line, with no field path (refused construct, syntax, duplicate key)."""
    return Finding(_clip(message, MAX_MESSAGE_LENGTH), line=line)


def _refused(finding: Finding) -> ModuleData:
    return ModuleData(None, [finding], [])


class _FailedError(Exception):
    """A model call already reported its problems: the values built from it are not evaluated further."""


def read_file(path: Path, filename: str) -> ModuleData:
    """Read the team module at `path` (`filename` is what messages call it): a regular file, never through a
    symbolic link (nothing outside the repository is read), at most MAX_MODULE_BYTES. Never raises."""
    try:
        # O_NOFOLLOW: a link is refused, not followed; O_NONBLOCK: a fifo cannot hang the open.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            status = os.fstat(descriptor)
            if (problem := not_regular(status.st_mode)) is not None:
                return _refused(_line(None, problem))
            if status.st_size > MAX_MODULE_BYTES:
                return _refused(_line(None, _too_large()))
            chunks, left = [], MAX_MODULE_BYTES + 1  # one more: a file that grew since fstat is still refused
            while left and (chunk := os.read(descriptor, left)):
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(descriptor)
        return read_bytes(b"".join(chunks), filename)
    except OSError as error:
        return _refused(_line(None, _LINK if error.errno == errno.ELOOP else f"cannot be read: {error.strerror}"))
    except Exception as error:  # the last resort: one module's finding, never a traceback
        return _refused(
            _line(None, f"could not be read as data ({type(error).__name__}: a bug in the team-module reader, please report it)")
        )


_LINK = (
    "is a symbolic link; team modules and team folders are regular files and folders in the repository (links are never followed)"
)
_FOLDER = "is a folder named like a team module; rename it (a team module is a file: workloads/<team>/<workload>.py)"


def not_regular(mode: int) -> str | None:
    """Why a file of this `os.lstat` mode cannot be a team module, if it cannot."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return _LINK
    return _FOLDER if stat.S_ISDIR(mode) else "is not a regular file; a team module is a regular file in the repository"


def find_modules(folder: Path) -> list[tuple[Path, str | None]]:
    """Every `.py` under `folder` and every symbolic link to a folder there, sorted, each with why it cannot be
    read as a team module where it cannot (`not_regular`). Links are listed, never followed."""
    if folder.is_symlink():
        return [(folder, _LINK)]
    found: list[tuple[Path, str | None]] = []

    def unreadable(error: OSError) -> None:
        found.append((Path(error.filename), f"cannot be read: {error.strerror}"))

    for top, folders, files in os.walk(folder, onerror=unreadable):  # followlinks=False: a linked folder is not entered
        here = Path(top)
        for name in folders:
            if (here / name).is_symlink():
                found.append((here / name, _LINK))
            elif name.endswith(".py"):
                found.append((here / name, _FOLDER))
        for name in files:
            if name.endswith(".py"):
                try:
                    found.append((here / name, not_regular(os.lstat(here / name).st_mode)))
                except OSError as error:
                    found.append((here / name, f"cannot be read: {error.strerror}"))
    return sorted(found, key=lambda item: item[0])


def _too_large() -> str:
    return f"is larger than {MAX_MODULE_BYTES} bytes ({BOUND}); a team module declares one workload"


def read_bytes(data: bytes, filename: str) -> ModuleData:
    """Evaluate `data`, a team module's bytes, as data: UTF-8, at most MAX_MODULE_BYTES. Never raises."""
    if len(data) > MAX_MODULE_BYTES:
        return _refused(_line(None, _too_large()))
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return _refused(
            _line(
                line,
                f"is not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} cannot be decoded (save the module as UTF-8)",
            )
        )
    return read(source, filename)


def read(source: str, filename: str) -> ModuleData:
    """Evaluate `source` (a team module) as data. Never executes it, never raises."""
    try:
        refused = _scan(source)
    except (tokenize.TokenError, SyntaxError, ValueError) as error:  # 3.12's tokenizer raises a decoding error too
        # Python's parser names a syntax error better than the tokenizer: parse only to hear it, and
        # refuse what the tokenizer could not bound even where the parser would take it.
        parsed = _parse(source, filename)
        line = error.lineno if isinstance(error, SyntaxError) else None
        refused = parsed if isinstance(parsed, Finding) else _line(line, f"syntax error: Python's tokenizer refuses it ({error})")
    if refused is not None:
        return _refused(refused)
    parsed = _parse(source, filename)
    if isinstance(parsed, Finding):
        return _refused(parsed)
    reader = _Reader()
    reader.module(parsed)
    if reader.dropped:
        reader.line_problems.append(
            _line(None, f"… {reader.dropped} more problems in this module (the first {MAX_PROBLEMS} are shown; {BOUND})")
        )
    if reader.line_problems or reader.field_problems:
        return ModuleData(None, reader.line_problems, reader.field_problems, reader.workload_name)
    value = reader.names.get("WORKLOAD", (None, 0))[0]
    if not isinstance(value, WorkloadSecretsArgs):
        found = "nothing" if value is None else type(value).__name__
        message = f"the module must define WORKLOAD = WorkloadSecretsArgs(...), found {found}"
        return ModuleData(None, [], [Finding(message, field="WORKLOAD", line=reader.line_of("WORKLOAD"))])
    lines = {path: line for path, line in reader.lines().items() if path == "WORKLOAD" or path.startswith("WORKLOAD[")}
    return ModuleData(value, [], [], lines=lines)


_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")


def _canonical(path: str) -> str:
    """`path` with every `.field` written `["field"]`: a model written as a dict (`{"key": ...}`) is read as
    a mapping, while pydantic names its fields with dots."""
    return _FIELD.sub(r'["\1"]', path)


def line_of(lines: Mapping[str, int], path: str) -> int | None:
    """The line of the keyword, dict key or list entry `path` names (in `lines`, a reader's canonical paths),
    else of the closest one that holds it (an unset field: the model call's line)."""
    path = _canonical(path)
    for end in range(len(path), 0, -1):
        if (end == len(path) or path[end] == "[") and (line := lines.get(path[:end])) is not None:
            return line
    return None


def _parse(source: str, filename: str) -> ast.Module | Finding:
    try:
        with warnings.catch_warnings():  # a module's odd escapes or literals are not the interpreter's to print
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=filename)
    except SyntaxError as error:
        return _line(error.lineno or 1, f"syntax error: {error.msg}")
    except (RecursionError, MemoryError):
        # _scan bounds what makes the parser recurse; this is the net under it.
        return _line(1, f"too deeply nested to parse (at most {MAX_DEPTH} levels and {MAX_OPERATORS} chained operators; {BOUND})")
    except ValueError as error:
        return _line(1, f"cannot be parsed: {error}")


_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
# Tokens that nest nothing: everything else an OP or one of these keywords is counted as an operator.
_SEPARATORS = frozenset({",", ";", ":", "=", "->"}) | _OPEN | _CLOSE
_KEYWORD_OPERATORS = frozenset({"and", "or", "not", "in", "is", "if", "else", "for", "lambda", "await", "yield"})


def _scan(source: str) -> Finding | None:
    """The first bound `source` breaks before it is parsed: size, NUL, line length, then on its tokens
    (linear, never recursive) nesting, operator chains and number literals. Raises what tokenize raises."""
    if len(source) > MAX_MODULE_BYTES:
        return _line(None, _too_large())
    if (nul := source.find("\0")) >= 0:
        return _line(source.count("\n", 0, nul) + 1, "contains a NUL character; a team module is text")
    for number, line in enumerate(source.split("\n"), 1):
        if len(line) > MAX_LINE_LENGTH:
            return _line(number, f"line is longer than {MAX_LINE_LENGTH} characters ({BOUND}); wrap it")
    return _Scan().tokens(source, 0, nested=False)


class _Scan:
    """Nesting and operator chains, counted on tokens: Python's parser recurses on both."""

    def __init__(self) -> None:
        self.chains = [0]
        """Operators in the current element of each open bracket, outermost first."""
        self.operators = 0
        """Their sum: how many operators nest the current token."""
        self.indent = 0
        self.after_closer = False

    def tokens(self, text: str, offset: int, nested: bool) -> Finding | None:
        level = len(self.chains)
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            kind, string, line = token.type, token.string, offset + token.start[0]
            if kind == tokenize.OP and string in _OPEN:
                if self.after_closer and (refused := self.operator(line)):  # `f()()`, `x[0][0]`: a chain
                    return refused
                self.chains.append(0)
                if len(self.chains) > MAX_DEPTH + 1:
                    return _depth(line)
            elif kind == tokenize.OP and string in _CLOSE:
                if len(self.chains) > 1:
                    self.operators -= self.chains.pop()
                if nested and len(self.chains) == level:  # the field's closing parenthesis
                    return None
            elif kind == tokenize.OP and string == ",":
                self.operators -= self.chains[-1]
                self.chains[-1] = 0
            elif (kind == tokenize.OP and string not in _SEPARATORS) or (kind == tokenize.NAME and string in _KEYWORD_OPERATORS):
                if refused := self.operator(line):
                    return refused
            elif kind == tokenize.NUMBER and len(string) > MAX_NUMBER_LENGTH:
                return _line(line, f"number literal is longer than {MAX_NUMBER_LENGTH} characters ({BOUND})")
            elif kind == tokenize.STRING and "f" in string[: string.find(string[-1])].lower():
                # Python 3.11 tokenizes an f-string whole (3.12 yields its fields' tokens): scan each field.
                for field in _fields(string):
                    if field.isidentifier() and len(self.chains) <= MAX_DEPTH:  # `{NAME}`: one token, one level
                        continue
                    if refused := self.tokens(f"({field})", line - 1, nested=True):
                        return refused
            elif kind == tokenize.INDENT:
                self.indent += 1
                if self.indent > MAX_DEPTH:
                    return _depth(line)
            elif kind == tokenize.DEDENT:
                self.indent -= 1
            elif kind == tokenize.NEWLINE:
                self.chains, self.operators = [0], 0
            if kind not in (tokenize.NL, tokenize.COMMENT):
                self.after_closer = kind == tokenize.OP and string in _CLOSE
        return None

    def operator(self, line: int) -> Finding | None:
        self.chains[-1] += 1
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            return _line(
                line, f"more than {MAX_OPERATORS} operators nest one value ({BOUND}); give its parts names and join those"
            )
        return None


def _depth(line: int) -> Finding:
    return _line(line, f"nested more than {MAX_DEPTH} deep ({BOUND}); give the inner values names")


def _fields(token: str) -> list[str]:
    """The replacement fields of an f-string token (format specs and nested fields included), as 3.11's
    parser finds them: `{{` is a brace, a quote inside a field opens a nested string."""
    start = min(i for i in (token.find("'"), token.find('"')) if i >= 0)
    quote = 3 if token[start : start + 3] in ("'''", '"""') else 1
    body, fields, i = token[start + quote : len(token) - quote], [], 0
    while i < len(body):
        if body.startswith(("{{", "}}"), i):
            i += 2
            continue
        if body[i] != "{":
            i += 1
            continue
        begin, depth = i + 1, 1
        i += 1
        while i < len(body) and depth:
            char = body[i]
            if char in "'\"":
                closing = char * 3 if body.startswith(char * 3, i) else char
                end = body.find(closing, i + len(closing))
                i = len(body) if end < 0 else end + len(closing)
                continue
            depth += (char in "([{") - (char in ")]}")
            i += 1
        fields.append(body[begin : i - 1] if not depth else body[begin:])
    return fields


@dataclass(frozen=True, slots=True)
class _Path:
    """A value's field path, e.g. `WORKLOAD.external_secrets[0]`: linked to its parent, joined only for a message."""

    parent: _Path | None
    part: str

    def __str__(self) -> str:
        parts: list[str] = []
        at: _Path | None = self
        while at is not None:
            parts.append(at.part)
            at = at.parent
        return _clip("".join(reversed(parts)), MAX_MESSAGE_LENGTH)


class _Reader:
    def __init__(self) -> None:
        self.names: dict[str, tuple[Any, int]] = {}
        """Each name's value and its size in cells."""
        self.imported: set[str] = set()
        self.line_problems: list[Finding] = []
        self.field_problems: list[Finding] = []
        self.dropped = 0
        """Problems past MAX_PROBLEMS, counted only."""
        self.workload_name: str | None = None
        self.cells = 0
        self.marks: list[tuple[_Path, int]] = []
        """The line of each keyword, dict key and list entry, by its path: joined into text only when a
        problem needs a line (`lines`), so a module without problems pays a tuple per value."""
        self.joined: dict[str, int] = {}
        self.done = 0
        """Marks already joined."""

    def mark(self, path: _Path, node: ast.AST) -> _Path:
        self.marks.append((path, getattr(node, "lineno", 1)))
        return path

    def lines(self) -> dict[str, int]:
        """Every marked path as text -> its line (the first, where a path is written twice)."""
        for path, line in self.marks[self.done :]:
            self.joined.setdefault(_canonical(str(path)), line)
        self.done = len(self.marks)
        return self.joined

    def line_of(self, path: str) -> int | None:
        return line_of(self.lines(), path)

    def report(self, problems: list[Finding], finding: Finding) -> None:
        if len(self.line_problems) + len(self.field_problems) < MAX_PROBLEMS:
            problems.append(finding)
        else:
            self.dropped += 1

    def module(self, tree: ast.Module) -> None:
        body = tree.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]  # the docstring
        for statement in body:
            # Every statement is judged, so a PR sees all its refusals at once.
            try:
                if isinstance(statement, ast.ImportFrom):
                    self.import_from(statement)
                elif isinstance(statement, ast.Assign):
                    self.assign(statement)
                else:
                    raise self.refuse(statement)
            except RefusedError as refused:
                self.report(self.line_problems, _line(refused.line, str(refused)))
                if isinstance(refused, _ExhaustedError):
                    return
                for target in getattr(statement, "targets", []):
                    if isinstance(target, ast.Name):
                        self.names[target.id] = (_FAILED, 1)

    def refuse(self, node: ast.AST, what: str | None = None) -> RefusedError:
        construct = what or _CONSTRUCTS.get(type(node), type(node).__name__)
        return RefusedError(node, f"{construct} is not allowed in a team module ({DATA_ONLY})")

    def import_from(self, statement: ast.ImportFrom) -> None:
        if statement.module != "components" or statement.level:
            where = _clip(f"{'.' * statement.level}{statement.module or ''}", MAX_QUOTE)
            raise self.refuse(statement, f"import from {where}")
        for alias in statement.names:
            if alias.name not in MODELS:
                raise self.refuse(statement, f"import of {_quote(alias.name)} (only {', '.join(MODELS)})")
            if alias.asname not in (None, alias.name):
                raise self.refuse(statement, f"import alias {_quote(alias.asname)}")
            self.imported.add(alias.name)

    def assign(self, statement: ast.Assign) -> None:
        if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
            raise self.refuse(statement, "assignment to anything but one plain name")
        name = statement.targets[0].id
        if name.startswith("__") or name in MODELS:
            raise self.refuse(statement, f"assignment to {_quote(name)}")
        try:
            self.names[name] = self.value(statement.value, self.mark(_Path(None, name), statement))
        except _FailedError:
            self.names[name] = (_FAILED, 1)

    def spend(self, node: ast.AST, cells: int) -> None:
        """Count `cells` built (or reused) against the module's MAX_CELLS, before they are built."""
        self.cells += cells
        if self.cells > MAX_CELLS:
            raise _ExhaustedError(
                node,
                f"the module's values add up to more than {MAX_CELLS} cells (a cell per value and per character, a name "
                f"counted each time it is used; {BOUND}); a declaration needs far fewer: do not build values by doubling",
            )

    def value(self, node: ast.expr, path: _Path) -> tuple[Any, int]:
        """Evaluate `node` into its value and size in cells; `path` is its field path for messages."""
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            _entries(node, len(node.elts), "list" if isinstance(node, ast.List) else "tuple")
            self.spend(node, 1 + len(node.elts))
            items = [self.value(element, self.mark(_Path(path, f"[{i}]"), element)) for i, element in enumerate(node.elts)]
            values = [value for value, _ in items]
            return (values if isinstance(node, ast.List) else tuple(values)), 1 + sum(size for _, size in items)
        if isinstance(node, ast.Dict):
            return self.mapping(node, path)
        if isinstance(node, ast.JoinedStr):
            return self.fstring(node, path)
        if isinstance(node, ast.BinOp):
            return self.add(node, path)
        if isinstance(node, ast.Call):
            return self.call(node, path)
        raise self.refuse(node)

    def constant(self, node: ast.Constant) -> tuple[Any, int]:
        value = node.value
        if isinstance(value, str):
            _string(node, len(value))
            self.spend(node, 1 + len(value))
            return value, 1 + len(value)
        if isinstance(value, int) and not isinstance(value, bool):
            _integer(node, value)
        elif value is not None and not isinstance(value, bool):
            raise self.refuse(node, f"literal {type(value).__name__}")
        self.spend(node, 1)
        return value, 1

    def name(self, node: ast.Name) -> tuple[Any, int]:
        if node.id.startswith("__"):
            raise self.refuse(node, f"dunder name {_quote(node.id)}")
        if node.id in MODELS:
            raise self.refuse(node, f"{node.id} without a call")
        if node.id not in self.names:
            raise RefusedError(node, f"name {_quote(node.id)} is not assigned earlier in this module ({DATA_ONLY})")
        value, size = self.names[node.id]
        if value is _FAILED:
            raise _FailedError
        self.spend(node, size)  # reuse costs the value again: `A = [B, B]` doubles
        return value, size

    def mapping(self, node: ast.Dict, path: _Path) -> tuple[dict[Any, Any], int]:
        _entries(node, len(node.keys), "dict")
        self.spend(node, 1 + len(node.keys))
        out: dict[Any, Any] = {}
        size = 1
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                raise self.refuse(value_node, "unpacking (**)")
            key, key_size = self.value(key_node, path)
            if not isinstance(key, str):
                raise RefusedError(key_node, f"mapping key {_quote(key)} must be a string")
            if key in out:
                # Python keeps the last of two equal keys without a word: a silently dropped secret
                # key (ESO's "duplicate secretKey") would only show up in production.
                self.report(
                    self.line_problems,
                    _line(key_node.lineno, f"key {_quote(key)} appears twice in one mapping; only one can be kept (remove one)"),
                )
            out[key], value_size = self.value(value_node, self.mark(_Path(path, f'["{_clip(key, MAX_QUOTE)}"]'), key_node))
            size += key_size + value_size
        return out, size

    def fstring(self, node: ast.JoinedStr, path: _Path) -> tuple[str, int]:
        parts: list[str] = []
        length = 0
        for part in node.values:
            text = self.fstring_part(part, path)
            length += len(text)
            _string(node, length)  # before the parts are joined
            parts.append(text)
        self.spend(node, 1 + length)
        return "".join(parts), 1 + length

    def fstring_part(self, part: ast.expr, path: _Path) -> str:
        if isinstance(part, ast.Constant):
            return str(part.value)
        if isinstance(part, ast.FormattedValue):
            if part.conversion != -1 or part.format_spec is not None:
                raise self.refuse(part, "f-string conversion or format spec")
            value, _ = self.value(part.value, path)
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise RefusedError(part, f"f-string value must be a string or an integer, got {type(value).__name__}")
            return str(value)  # an integer here is below MAX_INTEGER
        raise self.refuse(part)

    def add(self, node: ast.BinOp, path: _Path) -> tuple[Any, int]:
        # `a + b + c` nests to the left: walked in a loop, however long the chain.
        chain: list[ast.BinOp] = []
        operand: ast.expr = node
        while isinstance(operand, ast.BinOp):
            if not isinstance(operand.op, ast.Add):
                raise self.refuse(operand, f"operator {type(operand.op).__name__}")
            chain.append(operand)
            operand = operand.left
        total, size = self.value(operand, path)
        for step in reversed(chain):
            right, right_size = self.value(step.right, path)
            kinds = {type(total), type(right)}
            if len(kinds) != 1 or not kinds <= {str, int, list, tuple}:
                raise RefusedError(
                    step,
                    f"'+' joins two strings, integers, lists or tuples, not {type(total).__name__} and {type(right).__name__}",
                )
            if isinstance(total, int):
                _integer(step, total + right)
                self.spend(step, 1)
                total, size = total + right, 1
                continue
            length = len(total) + len(right)
            if isinstance(total, str):
                _string(step, length)
            else:
                _entries(step, length, type(total).__name__)
            self.spend(step, 1 + length)  # before the joined value is built
            total, size = total + right, size + right_size - 1
        return total, size

    def call(self, node: ast.Call, path: _Path) -> tuple[Any, int]:
        function = node.func
        if not isinstance(function, ast.Name) or function.id not in MODELS:
            what = f"call of {_quote(function.id)}" if isinstance(function, ast.Name) else "call"
            raise self.refuse(node, what)
        if function.id not in self.imported:
            raise RefusedError(node, f"{function.id} must be imported first: from components import {function.id}")
        if node.args:
            raise self.refuse(node.args[0], f"positional argument to {function.id}")
        self.spend(node, 1 + len(node.keywords))
        self.mark(path, node)
        arguments: dict[str, Any] = {}
        size = 1
        failed = False
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.refuse(keyword.value, "unpacking (**)")
            try:
                at = self.mark(_Path(path, f".{keyword.arg}"), keyword)
                arguments[keyword.arg], argument_size = self.value(keyword.value, at)
                size += argument_size
            except _FailedError:
                failed = True
        if failed:
            raise _FailedError
        model = MODELS[function.id]
        try:
            return model(**arguments), size
        except DeclarationError as error:
            self.workload_name = _clip(error.workload, MAX_QUOTE)
            problems, root = error.problems, "WORKLOAD"  # a rule's path starts at WORKLOAD, wherever the call is
        except ValidationError as error:
            problems, root = problems_from_validation_error(error, str(path)), str(path)
        for problem in problems:
            # The line of the keyword or dict key the problem is about, else of the call.
            line = self.line_of(str(path) + (problem.field or root).removeprefix(root)) or node.lineno
            field = _clip(problem.field, MAX_MESSAGE_LENGTH) if problem.field else problem.field
            self.report(self.field_problems, Finding(_clip(problem.message, MAX_MESSAGE_LENGTH), field=field, line=line))
        raise _FailedError


def _entries(node: ast.AST, count: int, kind: str) -> None:
    if count > MAX_ENTRIES:
        raise RefusedError(node, f"{kind} has more than {MAX_ENTRIES} entries ({BOUND}); split the workload")


def _string(node: ast.AST, length: int) -> None:
    if length > MAX_STRING_LENGTH:
        raise RefusedError(node, f"string longer than {MAX_STRING_LENGTH} characters ({BOUND}); a declaration never needs that")


def _integer(node: ast.AST, value: int) -> None:
    if value >= MAX_INTEGER:
        raise RefusedError(node, f"integer of {MAX_INTEGER:_} or more ({BOUND}); a declaration never needs that")


_FAILED = object()
"""Bound to a name whose value failed validation: uses of it report nothing more."""
