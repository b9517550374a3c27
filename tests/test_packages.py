"""The package boundaries: the pure core (declarations, rules, rendering) never imports the Pulumi SDK;
only the components, the program and the harness do."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from declarations import inventory

PURE = ["declarations", "rules", "rendering"]


def pulumi_imports(path: Path) -> list[str]:
    """`line: statement` of every import of a `pulumi*` module in `path`, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [f"{node.lineno}: {module}" for module in modules if module.split(".")[0].startswith("pulumi")]
    return found


@pytest.mark.parametrize(
    "path",
    [
        *(p for package in PURE for p in sorted((inventory.ROOT / package).glob("*.py"))),
        inventory.ROOT / "components/__init__.py",
    ],
    ids=lambda p: str(p.relative_to(inventory.ROOT)),
)
def test_pure_module_when_read_then_it_imports_no_pulumi_module(path: Path) -> None:
    assert pulumi_imports(path) == []


def test_pulumi_imports_when_a_nested_import_then_found(tmp_path: Path) -> None:
    """The check above would pass vacuously if it missed imports inside functions."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    import pulumi_kubernetes as k8s\n    from pulumi import Config\n")
    assert pulumi_imports(source) == ["2: pulumi_kubernetes", "3: pulumi"]


def test_pure_packages_when_imported_with_the_yaml_view_then_the_pulumi_sdk_is_not_loaded() -> None:
    """Discovery, settings, the plan, the rules, the team contract and the YAML view run without the SDK
    (it costs startup time, and a team module's import line must not load it)."""
    code = (
        "import sys, components, declarations.inventory, declarations.settings, rendering.plan, rules.policies, "
        "tools.preview; sys.exit('pulumi' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=inventory.ROOT, check=False).returncode == 0
