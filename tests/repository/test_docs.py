"""Every Python block in README.md and docs/ runs, and the declarations it shows render valid ESO objects."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from ameide_secrets.declare import inventory, team_module
from ameide_secrets.project import REPOSITORY
from ameide_secrets.render import manifests
from components.platform_secret_access import PlatformSecretAccess, PlatformSecretAccessArgs
from components.workload_secrets import WorkloadSecrets, WorkloadSecretsComponentArgs

from helpers import platform_objects, settings_for, workload_objects

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
            PlatformSecretAccessArgs(platform_objects(settings, inventory.namespaces(declared), inventory.grants(declared))),
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
