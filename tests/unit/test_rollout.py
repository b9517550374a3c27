"""The rollout matrix: which workloads still rely on the centralized manifest, per environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ameide_secrets import rollout
from ameide_secrets.cli import rollout as verb
from ameide_secrets.offline import preview
from ameide_secrets.project import REPOSITORY, Project

from helpers import STACKS, discover, registry

MODULE = """from components import ExternalSecretSpec, WorkloadSecretsArgs
WORKLOAD = WorkloadSecretsArgs(
    workload="{workload}", team="{team}", namespace="{namespace}", rollout="{rollout}",
    external_secrets=[ExternalSecretSpec(name="{workload}-secrets", data={{"KEY": "{workload}/key"}})],
)
"""


@pytest.fixture
def tree(write_module: Callable[[str, str], Path], write_registry: Callable[[dict[str, Any]], Path]) -> Path:
    """A workloads/ tree with one workload per rollout stage, used as the inventory; the central bundle holds
    graph's and alertmanager's ExternalSecrets, not www's."""
    write_registry(
        {
            "teams": {
                "web": {"namespaces": ["ameide"], "workloads": ["www"]},
                "core": {"namespaces": ["ameide"], "workloads": ["graph"]},
                "observability": {"namespaces": ["monitoring"], "workloads": ["alertmanager"]},
            },
            "legacy": {"ameide/graph-secrets": "core", "monitoring/alertmanager-secrets": "observability"},
        }
    )
    write_module("web/www.py", MODULE.format(workload="www", team="web", namespace="ameide", rollout="local"))
    write_module("core/graph.py", MODULE.format(workload="graph", team="core", namespace="ameide", rollout="staging"))
    workloads = write_module(
        "observability/alertmanager.py",
        MODULE.format(workload="alertmanager", team="observability", namespace="monitoring", rollout="local"),
    )
    return workloads


def test_matrix_when_rolled_out_then_owned_up_to_rollout_and_legacy_or_not_served_beyond(tree: Path) -> None:
    rows = {r.workload: (r.team, r.namespace, r.environments) for r in rollout.matrix(discover(tree), registry(tree))}
    assert rows == {
        "graph": ("core", "ameide", {"local": "owned", "staging": "owned", "production": "legacy"}),
        "alertmanager": ("observability", "monitoring", {"local": "owned", "staging": "legacy", "production": "legacy"}),
        "www": ("web", "ameide", {"local": "owned", "staging": "not served", "production": "not served"}),
    }


def test_render_markdown_when_rendered_then_table_row_per_workload_and_legacy_counts(tree: Path) -> None:
    markdown = rollout.render_markdown(rollout.matrix(discover(tree), registry(tree)))
    assert "| workload | team | namespace | local | staging | production |\n| --- | --- | --- | --- | --- | --- |\n" in markdown
    assert "| graph | core | ameide | owned | owned | legacy |\n" in markdown
    assert "| alertmanager | observability | monitoring | owned | legacy | legacy |\n" in markdown
    assert "| www | web | ameide | owned | not served | not served |\n" in markdown
    assert markdown.endswith(
        "- staging: 1 of 3 workloads still on the central bundle, 1 not served there yet\n"
        "- production: 2 of 3 workloads still on the central bundle, 1 not served there yet\n"
    )


def test_main_when_json_then_one_object_per_workload(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verb.main(["--format", "json", "--root", str(tree.parent)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document[0] == {
        "workload": "graph",
        "team": "core",
        "namespace": "ameide",
        "module": "workloads/core/graph.py",
        "environments": {"local": "owned", "staging": "owned", "production": "legacy"},
    }
    assert [d["workload"] for d in document] == ["graph", "alertmanager", "www"]


def test_main_when_declarations_invalid_then_exit_1_with_problems(
    write_module: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    tree = write_module("core/graph.py", "WORKLOAD = 1\n")
    assert verb.main(["--root", str(tree.parent)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "workloads/core/graph.py:1 (workload graph): WORKLOAD: the module must define WORKLOAD" in err


@pytest.mark.parametrize("stack", STACKS)
def test_matrix_when_compared_with_stack_then_owned_exactly_what_the_stack_renders(stack: str) -> None:
    result = preview.preview(Project(), stack)
    environment = result.outputs["environment"]
    owned = [r.workload for r in rollout.matrix(discover(), registry()) if r.environments[environment] == rollout.OWNED]
    assert sorted(owned) == result.outputs["ownedWorkloads"]


def test_docs_rollout_when_compared_with_workloads_then_current() -> None:
    current = rollout.render_markdown(rollout.matrix(discover(), registry()))
    assert (REPOSITORY / "docs" / "rollout.md").read_text() == current, "docs/rollout.md is stale: run `make rollout`"
