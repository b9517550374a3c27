"""Every Python block in README.md and docs/ runs, and the declarations it shows render valid ESO objects."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from components import manifests
from components.spec import WorkloadSecretsArgs

from conftest import ROOT, settings_for

_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)


def python_blocks() -> list[tuple[str, str]]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    return [
        (f"{path.relative_to(ROOT)}#{i}", textwrap.dedent(match.group(2)))
        for path in files if path.exists()
        for i, match in enumerate(_BLOCK.finditer(path.read_text()))
    ]


BLOCKS = python_blocks()


def test_docs_when_collected_then_readme_has_a_declaration_example() -> None:
    assert any(name.startswith("README.md#") and "WORKLOAD =" in code for name, code in BLOCKS)


@pytest.mark.parametrize(("name", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_docs_when_python_block_runs_then_declarations_render_valid_eso(name: str, code: str, crds) -> None:
    namespace: dict[str, object] = {}
    exec(compile(code, name, "exec"), namespace)  # noqa: S102 - our own documentation
    for value in namespace.values():
        if isinstance(value, WorkloadSecretsArgs):
            for spec in value.external_secrets:
                manifest = manifests.external_secret(value, spec, settings_for("production"))
                assert crds.errors(manifest) == []
