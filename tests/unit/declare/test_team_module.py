"""Team modules are data: evaluated from their syntax tree, never executed (a PR is untrusted code)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from ameide_secrets.declare import team_module
from ameide_secrets.declare.inventory import DeclarationErrors
from ameide_secrets.project import REPOSITORY

from helpers import discover

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
    "relative-import": "from . import keycloak",
    "model-alias": "from components import RemoteRef as open",
    "star-import": "from components import *",
    "dict-unpack": "X = {{**globals()}}",
    "subscript": "X = ['a'][0]",
    "if": "if True:\n    open('{marker}', 'w')",
    "try": "try:\n    open('{marker}', 'w')\nexcept Exception:\n    pass",
    "with": "with open('{marker}', 'w'):\n    pass",
    "expression-statement": "open('{marker}', 'w')",
    "fstring-conversion": "X = f'{{WORKLOAD_NAME!r}}'",
    "shadow-model": "RemoteRef = 1",
    "dunder-assign": "__builtins__ = 1",
    "float": "X = 1.5",
    "bytes": "X = b'a'",
    "multiply": "X = 'a' * 10",
}


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
    assert lines[0].startswith("workloads/analytics/plausible.py:2: ")
    assert "is not allowed in a team module (team modules are data:" in lines[0] or "is not assigned earlier" in lines[0]
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
        "workloads/analytics/plausible.py:2",
        "workloads/analytics/plausible.py:3",
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("UNDEFINED", "name 'UNDEFINED' is not assigned earlier in this module"),
        ("'a' + 1", "'+' joins two strings, integers, lists or tuples, not str and int"),
        ("{1: 'a'}", "mapping key 1 must be a string"),
        ("f'{[1]}'", "f-string value must be a string or an integer, got list"),
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
    lines = ["A0 = 'xxxxxxxx'"] + [f"A{i} = A{i - 1} + A{i - 1}" for i in range(1, 64)]
    data = team_module.read(HEADER + "\n".join(lines) + "\n", "m.py")
    assert data.workload is None
    assert any(f"value longer than {team_module.MAX_VALUE_LENGTH}" in p.message for p in data.line_problems)
