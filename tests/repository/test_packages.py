"""The package boundaries: the product (`ameide_secrets`) imports nothing from the lab; its pure core never
imports the Pulumi SDK (only the components, the program, the mock harness and the CrossGuard pack do);
`rules/` imports no renderer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ameide_secrets"
# The modules of the product that talk to the Pulumi SDK; everything else in the package is pure.
# (offline/preview.py imports the SDK only when a text or json view runs the program: the YAML view does not.)
PULUMI_SIDE = {"offline/harness.py", "offline/pulumi_internals.py", "offline/preview.py", "crossguard.py"}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in `path`, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from package import module` imports `package.module` (or a name of `package`: counted as that).
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def importing(path: Path, *prefixes: str) -> list[str]:
    """`line: module` of every import of a module under one of `prefixes` (a top-level name or a dotted package)."""
    return [
        f"{line}: {module}"
        for line, module in imports(path)
        if any(module == prefix or module.startswith(f"{prefix}.") or module.split(".")[0] == prefix for prefix in prefixes)
    ]


def package_modules(*exclude: str) -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).as_posix() not in exclude]


def _id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", [*package_modules(*PULUMI_SIDE), ROOT / "components/__init__.py"], ids=_id)
def test_pure_module_when_read_then_it_imports_no_pulumi_module(path: Path) -> None:
    assert importing(path, "pulumi", "pulumi_kubernetes", "pulumi_vault", "pulumi_policy") == []


@pytest.mark.parametrize("path", package_modules(), ids=_id)
def test_product_module_when_read_then_it_imports_nothing_from_the_lab(path: Path) -> None:
    assert importing(path, "lab", "tests") == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "rules").glob("*.py")), ids=_id)
def test_rules_module_when_read_then_it_imports_only_the_vocabulary_findings_and_other_rules(path: Path) -> None:
    found = importing(path, "ameide_secrets")
    assert [
        i
        for i in found
        if not i.split(": ")[1].startswith(("ameide_secrets.rules", "ameide_secrets.vocabulary", "ameide_secrets.findings"))
    ] == []


def test_importing_when_a_nested_import_then_found(tmp_path: Path) -> None:
    """The checks above would pass vacuously if they missed imports inside functions."""
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    import pulumi_kubernetes as k8s\n    from pulumi import Config\n    from lab import testenv\n"
    )
    assert importing(source, "pulumi", "pulumi_kubernetes") == ["2: pulumi_kubernetes", "3: pulumi.Config"]
    assert importing(source, "lab") == ["4: lab.testenv"]


def test_pure_packages_when_imported_with_the_yaml_view_then_the_pulumi_sdk_is_not_loaded() -> None:
    """Discovery, settings, the stack's objects, the rules, the team contract and the YAML view run without the
    SDK (it costs startup time, and a team module's import line must not load it)."""
    code = (
        "import sys, components, ameide_secrets.project, ameide_secrets.rules.guardrails, ameide_secrets.cli.preview; "
        "sys.exit('pulumi' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0
