"""The offline preview, the main job on a machine without the Pulumi CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from components import inventory
from tools import preview

from conftest import ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = preview.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_preview_when_yaml_then_every_kubernetes_object_as_sent(capsys) -> None:
    code, out, _ = run(capsys, "--stack", "production", "--format", "yaml")
    documents = list(yaml.safe_load_all(out))
    assert code == 0
    kinds = [d["kind"] for d in documents]
    assert kinds[:3] == ["ServiceAccount", "ClusterRoleBinding", "ClusterSecretStore"]
    assert set(kinds[3:]) == {"ExternalSecret"}
    production_owned = [d for d in inventory.discover() if d.args.rollout.value == "production"]
    assert len(kinds) - 3 == sum(len(d.args.external_secrets) for d in production_owned)


def test_preview_when_run_twice_then_identical_output(capsys) -> None:
    for fmt in ("yaml", "text", "json"):
        first = run(capsys, "--stack", "staging", "--format", fmt)
        assert run(capsys, "--stack", "staging", "--format", fmt) == first


def test_preview_when_json_then_resources_carry_options_and_outputs(capsys) -> None:
    code, out, _ = run(capsys, "--stack", "staging", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert (document["project"], document["stack"], document["environment"]) == ("ameide-secrets", "staging", "staging")
    fields = {"type", "name", "parent", "custom", "inputs", "protect", "retainOnDelete", "dependsOn", "provider"}
    assert all(set(r) == fields for r in document["resources"])
    components = [r for r in document["resources"] if not r["custom"]]
    assert {r["type"] for r in components} == {"ameide:secrets:PlatformSecretAccess", "ameide:secrets:WorkloadSecrets"}
    assert document["outputs"]["storeName"] == "ameide-vault"


def test_preview_when_text_then_tree_and_counts(capsys) -> None:
    code, out, _ = run(capsys, "--stack", "local")
    assert code == 0
    assert out.startswith("ameide-secrets-local (pulumi:pulumi:Stack)\n")
    assert "├─ ameide:secrets:PlatformSecretAccess  platform\n│  ├─ " in out
    assert "kubernetes:external-secrets.io/v1:ExternalSecret  ameide/plausible-secrets" in out
    assert "Kubernetes objects: 1 ClusterRoleBinding, 1 ClusterSecretStore, " in out


def test_preview_when_unknown_stack_then_exit_1_and_stacks_listed(capsys) -> None:
    code, out, err = run(capsys, "--stack", "qa")
    assert (code, out) == (1, "")
    assert err.strip() == "no stack 'qa': Pulumi.qa.yaml does not exist (stacks: local, production, staging)"


def test_preview_when_declarations_invalid_then_exit_1_one_line_per_problem(capsys, monkeypatch, write_module) -> None:
    write_module("analytics/plausible.py", "WORKLOAD = (\n")
    tree = write_module("core/graph.py", "WORKLOAD = 1\n")
    monkeypatch.setattr(inventory, "WORKLOADS_DIR", tree)
    code, out, err = run(capsys, "--stack", "local")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "2 problems in workload declarations:",
        "workloads/analytics/plausible.py (workload plausible): line 1: syntax error: '(' was never closed",
        "workloads/core/graph.py (workload graph): WORKLOAD: the module must define WORKLOAD = WorkloadSecretsArgs(...), found int",
    ]


def test_preview_when_run_as_module_then_works_from_a_shell() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tools.preview", "--stack", "local", "--format", "yaml"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "kind: ClusterSecretStore" in completed.stdout
