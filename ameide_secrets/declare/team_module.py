"""Read a team module as data: parse it, evaluate an allow-listed subset, never execute it.

A team module arrives in a pull request before anyone has reviewed it, and previews run in CI:
executing it would run a stranger's code next to CI's credentials. So the module is parsed with
`ast` and only these constructs are evaluated, in this module, by this code:

- a docstring; `from components import` of the declaration models (`MODELS`);
- module-level `NAME = <expression>` assignments;
- expressions: str / int / bool / None literals, lists, tuples, dicts, names assigned earlier in
  the module, f-strings over those (no conversions or format specs), `+` of two values of one
  kind (str, int, list, tuple), and calls of the declaration models with keyword arguments.

Anything else is refused with its line and never evaluated. Errors quote only the module's own
source (its literals), never the environment. Pure: no `pulumi` import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
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


@dataclass
class ModuleData:
    """What a team module declares, or every problem found reading it."""

    workload: WorkloadSecretsArgs | None
    line_problems: list[Finding]
    field_problems: list[Finding]
    """Validation problems with their field path from `WORKLOAD` (or the name a model was bound to)."""
    workload_name: str | None = None
    """The workload a failed `WorkloadSecretsArgs(...)` declared, when the rules (not the shape) failed."""


def _line(line: int, message: str) -> Finding:
    """A finding at a source line, with no field path (refused construct, syntax, duplicate key)."""
    return Finding(message, line=line)


class _FailedError(Exception):
    """A model call already reported its problems: the values built from it are not evaluated further."""


def read(source: str, filename: str) -> ModuleData:
    """Evaluate `source` (a team module) as data. Never executes it."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        return ModuleData(None, [_line(error.lineno or 1, f"syntax error: {error.msg}")], [])
    reader = _Reader()
    reader.module(tree)
    if reader.line_problems or reader.field_problems:
        return ModuleData(None, reader.line_problems, reader.field_problems, reader.workload_name)
    value = reader.names.get("WORKLOAD")
    if not isinstance(value, WorkloadSecretsArgs):
        found = "nothing" if value is None else type(value).__name__
        return ModuleData(
            None, [], [Finding(f"the module must define WORKLOAD = WorkloadSecretsArgs(...), found {found}", field="WORKLOAD")]
        )
    return ModuleData(value, [], [])


class _Reader:
    def __init__(self) -> None:
        self.names: dict[str, Any] = {}
        self.imported: set[str] = set()
        self.line_problems: list[Finding] = []
        self.field_problems: list[Finding] = []
        self.workload_name: str | None = None

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
                self.line_problems.append(_line(refused.line, str(refused)))
                for target in getattr(statement, "targets", []):
                    if isinstance(target, ast.Name):
                        self.names[target.id] = _FAILED

    def refuse(self, node: ast.AST, what: str | None = None) -> RefusedError:
        construct = what or _CONSTRUCTS.get(type(node), type(node).__name__)
        return RefusedError(node, f"{construct} is not allowed in a team module ({DATA_ONLY})")

    def import_from(self, statement: ast.ImportFrom) -> None:
        if statement.module != "components" or statement.level:
            raise self.refuse(statement, f"import from {'.' * statement.level}{statement.module or ''!s}")
        for alias in statement.names:
            if alias.name not in MODELS:
                raise self.refuse(statement, f"import of {alias.name!r} (only {', '.join(MODELS)})")
            if alias.asname not in (None, alias.name):
                raise self.refuse(statement, f"import alias {alias.asname!r}")
            self.imported.add(alias.name)

    def assign(self, statement: ast.Assign) -> None:
        if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
            raise self.refuse(statement, "assignment to anything but one plain name")
        name = statement.targets[0].id
        if name.startswith("__") or name in MODELS:
            raise self.refuse(statement, f"assignment to {name!r}")
        try:
            self.names[name] = self.value(statement.value, name)
        except _FailedError:
            self.names[name] = _FAILED

    def value(self, node: ast.expr, path: str) -> Any:
        """Evaluate `node`; `path` is its field path (e.g. `WORKLOAD.external_secrets[0]`) for messages."""
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (str, bool, int)):
                return node.value
            raise self.refuse(node, f"literal {type(node.value).__name__}")
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(element, f"{path}[{i}]") for i, element in enumerate(node.elts)]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            return self.mapping(node, path)
        if isinstance(node, ast.JoinedStr):
            return _bounded(node, "".join(self.fstring_part(part, path) for part in node.values))
        if isinstance(node, ast.BinOp):
            return self.add(node, path)
        if isinstance(node, ast.Call):
            return self.call(node, path)
        raise self.refuse(node)

    def name(self, node: ast.Name) -> Any:
        if node.id.startswith("__"):
            raise self.refuse(node, f"dunder name {node.id!r}")
        if node.id in MODELS:
            raise self.refuse(node, f"{node.id} without a call")
        if node.id not in self.names:
            raise RefusedError(node, f"name {node.id!r} is not assigned earlier in this module ({DATA_ONLY})")
        value = self.names[node.id]
        if value is _FAILED:
            raise _FailedError
        return value

    def mapping(self, node: ast.Dict, path: str) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                raise self.refuse(value_node, "unpacking (**)")
            key = self.value(key_node, path)
            if not isinstance(key, str):
                raise RefusedError(key_node, f"mapping key {key!r} must be a string")
            if key in out:
                # Python keeps the last of two equal keys without a word: a silently dropped secret
                # key (ESO's "duplicate secretKey") would only show up in production.
                self.line_problems.append(
                    _line(key_node.lineno, f"key {key!r} appears twice in one mapping; only one can be kept (remove one)")
                )
            out[key] = self.value(value_node, f'{path}["{key}"]')
        return out

    def fstring_part(self, part: ast.expr, path: str) -> str:
        if isinstance(part, ast.Constant):
            return str(part.value)
        if isinstance(part, ast.FormattedValue):
            if part.conversion != -1 or part.format_spec is not None:
                raise self.refuse(part, "f-string conversion or format spec")
            value = self.value(part.value, path)
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise RefusedError(part, f"f-string value must be a string or an integer, got {type(value).__name__}")
            return str(value)
        raise self.refuse(part)

    def add(self, node: ast.BinOp, path: str) -> Any:
        if not isinstance(node.op, ast.Add):
            raise self.refuse(node, f"operator {type(node.op).__name__}")
        left, right = self.value(node.left, path), self.value(node.right, path)
        kinds = {type(left), type(right)}
        if len(kinds) != 1 or not kinds <= {str, int, list, tuple}:
            raise RefusedError(
                node, f"'+' joins two strings, integers, lists or tuples, not {type(left).__name__} and {type(right).__name__}"
            )
        return _bounded(node, left + right)

    def call(self, node: ast.Call, path: str) -> Any:
        function = node.func
        if not isinstance(function, ast.Name) or function.id not in MODELS:
            what = f"call of {function.id!r}" if isinstance(function, ast.Name) else "call"
            raise self.refuse(node, what)
        if function.id not in self.imported:
            raise RefusedError(node, f"{function.id} must be imported first: from components import {function.id}")
        if node.args:
            raise self.refuse(node.args[0], f"positional argument to {function.id}")
        arguments: dict[str, Any] = {}
        failed = False
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.refuse(keyword.value, "unpacking (**)")
            try:
                arguments[keyword.arg] = self.value(keyword.value, f"{path}.{keyword.arg}")
            except _FailedError:
                failed = True
        if failed:
            raise _FailedError
        model = MODELS[function.id]
        try:
            return model(**arguments)
        except DeclarationError as error:
            self.workload_name = error.workload
            self.field_problems += error.problems
        except ValidationError as error:
            self.field_problems += problems_from_validation_error(error, path)
        raise _FailedError


# Far beyond any declaration; a module doubling a string on each line would otherwise exhaust CI's memory.
MAX_VALUE_LENGTH = 100_000


def _bounded(node: ast.AST, value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10**18:
            raise RefusedError(node, "integer too large for a declaration")
    elif len(value) > MAX_VALUE_LENGTH:
        raise RefusedError(node, f"value longer than {MAX_VALUE_LENGTH} (a declaration never needs that)")
    return value


_FAILED = object()
"""Bound to a name whose value failed validation: uses of it report nothing more."""
