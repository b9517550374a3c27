"""Every Python block in README.md and docs/ runs, and the declarations it shows render valid ESO objects."""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from ameide_secrets.cli import VERBS
from ameide_secrets.declare import inventory, team_module
from ameide_secrets.project import REPOSITORY
from ameide_secrets.render import manifests
from components.platform_secret_access import PlatformSecretAccess, PlatformSecretAccessArgs
from components.workload_secrets import WorkloadSecrets, WorkloadSecretsComponentArgs

from helpers import granting, platform_objects, project_tree, settings_for, workload_objects

_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)


def python_blocks() -> list[tuple[str, str]]:
    files = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("**/*.md"))]
    return [
        (f"{path.relative_to(REPOSITORY)}#{i}", textwrap.dedent(match.group(2)))
        for path in files
        if path.exists()
        for i, match in enumerate(_BLOCK.finditer(path.read_text()))
    ]


BLOCKS = python_blocks()
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def test_docs_when_collected_then_readme_has_a_declaration_example() -> None:
    assert any(name.startswith("README.md#") and "WORKLOAD =" in code for name, code in BLOCKS)


@pytest.mark.parametrize(("name", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_docs_when_python_block_runs_then_declarations_register_valid_eso_under_mocks(
    name: str, code: str, pulumi_run, crds
) -> None:
    # Read as discovery reads a team module: the docs show only what a module may contain.
    data = team_module.read(code, name)
    assert (data.line_problems, data.field_problems) == ([], [])
    assert data.workload is not None
    declarations = [data.workload]
    settings = settings_for("production")

    def program() -> None:
        declared = [inventory.DeclaredWorkload(d, name) for d in declarations]
        platform = PlatformSecretAccess(
            "platform",
            PlatformSecretAccessArgs(
                platform_objects(settings, inventory.namespaces(declared), inventory.grants(declared, granting(declared)))
            ),
        )
        for declaration in declarations:
            WorkloadSecrets(
                declaration.workload,
                WorkloadSecretsComponentArgs(declaration, workload_objects(declaration, settings), platform.registered),
            )

    registered = [r.inputs for r in pulumi_run(program, stack="production").by_type(EXTERNAL_SECRET)]
    assert len(registered) == sum(len(d.external_secrets) for d in declarations)
    assert {m["metadata"]["name"]: crds.errors(m) for m in registered} == {m["metadata"]["name"]: [] for m in registered}


def test_consuming_doc_when_sample_rendered_then_equals_the_listed_externalsecrets() -> None:
    text = (REPOSITORY / "docs" / "consuming-vault-secrets.md").read_text()
    [module] = [code for name, code in BLOCKS if name.startswith("docs/consuming-vault-secrets.md#") and "WORKLOAD =" in code]
    workload = team_module.read(module, "consuming-vault-secrets.md").workload
    assert workload is not None
    [listing] = re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)[-1:]
    rendered = [manifests.external_secret(workload, spec, settings_for("production")) for spec in workload.external_secrets]
    assert list(yaml.safe_load_all(listing)) == rendered


def test_docs_when_linked_then_every_relative_link_resolves() -> None:
    for path in [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.relative_to(REPOSITORY)} links to missing {target}"


def test_docs_when_they_name_a_repository_file_then_it_exists() -> None:
    """Paths in the docs (`ameide_secrets/rules/tenancy.py`, `tests/unit/...`) follow the code when it moves."""
    named = re.compile(r"`((?:ameide_secrets|components|lab|tests|policy|docs)/[\w./-]+\.(?:py|md|yaml|sh))")
    for path in [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]:
        for relative in named.findall(path.read_text()):
            if "<" not in relative:
                assert (REPOSITORY / relative).exists(), f"{path.relative_to(REPOSITORY)} names missing {relative}"


def command_lines() -> list[tuple[str, str, list[str]]]:
    """(where, verb, arguments) of every `ameide-secrets <verb> ...` line in the docs' shell blocks."""
    found = []
    for path in [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]:
        for block in re.findall(r"^ *```(?:sh|bash)\n(.*?)^ *```", path.read_text(), re.S | re.M):
            for line in block.splitlines():
                if "ameide-secrets " not in line:
                    continue
                words = shlex.split(line.split(" #", 1)[0].strip())
                at = next((i for i, word in enumerate(words) if word.endswith("ameide-secrets")), None)
                if at is not None and len(words) > at + 1 and not words[at + 1].startswith("-"):
                    found.append((f"{path.relative_to(REPOSITORY)}: {line.strip()}", words[at + 1], words[at + 2 :]))
    return found


@pytest.mark.parametrize(("where", "verb", "arguments"), command_lines(), ids=[w for w, _, _ in command_lines()])
def test_docs_when_they_show_a_command_then_its_verb_takes_those_arguments(where: str, verb: str, arguments: list[str]) -> None:
    """Every command line the docs show parses with the verb's own parser (no server is asked)."""
    assert verb in VERBS, where
    module = importlib.import_module(f"ameide_secrets.cli.{VERBS[verb][0]}")
    module.parser().parse_args([a for a in arguments if not a.startswith("$(")])


def test_readme_when_it_shows_a_bad_declaration_then_preview_prints_exactly_that_and_exits_1(tmp_path: Path) -> None:
    """The README's example error is what `preview` says of its own plausible module with that key."""
    readme = (REPOSITORY / "README.md").read_text()
    shown = readme.split("A bad declaration or setting exits 1", 1)[1]
    [expected] = re.findall(r"```text\n(.*?)```", shown, re.S)[:1]
    root = project_tree(tmp_path)
    module = root / "workloads/analytics/plausible.py"
    module.write_text(module.read_text().replace('"plausible/secret-key-base"', '"growth/x"', 1))
    completed = subprocess.run(
        [sys.executable, "-m", "ameide_secrets", "preview", "--stack", "local", "--root", str(root)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (completed.returncode, completed.stderr) == (1, expected)
