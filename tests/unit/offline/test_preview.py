"""The offline preview, the main job on a machine without the Pulumi CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ameide_secrets import vocabulary
from ameide_secrets.cli import preview as verb
from ameide_secrets.offline import preview, revision
from ameide_secrets.offline.crd_schema import crds_dir
from ameide_secrets.project import REPOSITORY, Project
from ameide_secrets.render import manifests

from helpers import config_for, discover, external_secret_manifest, project_tree


def run(capsys: pytest.CaptureFixture[str], *argv: str, root: Path = REPOSITORY) -> tuple[int, str, str]:
    code = verb.main(["--root", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_preview_when_yaml_then_every_kubernetes_object_as_sent(capsys) -> None:
    code, out, _ = run(capsys, "--stack", "production", "--format", "yaml")
    documents = list(yaml.safe_load_all(out))
    assert code == 0
    kinds = [d["kind"] for d in documents]
    production_owned = [d for d in discover() if d.args.rollout.value == "production"]
    namespaces = {d.args.namespace for d in production_owned}
    # The store's identity (referent: one account per admitted namespace), its admission policies,
    # and the preview identity's role, binding and dry-run policy.
    platform = [
        *["ServiceAccount"] * len(namespaces),
        "ClusterRole",
        "ClusterRoleBinding",
        *["ValidatingAdmissionPolicy"] * 4,
        *["ValidatingAdmissionPolicyBinding"] * 4,
        "ClusterSecretStore",
    ]
    assert kinds[: len(platform)] == platform
    assert set(kinds[len(platform) :]) == {"ExternalSecret"}
    assert len(kinds) - len(platform) == sum(len(d.args.external_secrets) for d in production_owned)


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
    assert {r["type"] for r in components} == {
        "ameide:secrets:PlatformSecretAccess",
        "ameide:secrets:VaultAccess",
        "ameide:secrets:WorkloadSecrets",
    }
    assert document["outputs"]["storeName"] == "ameide-vault"


def test_preview_when_text_then_tree_and_counts(capsys) -> None:
    code, out, _ = run(capsys, "--stack", "local")
    assert code == 0
    assert out.startswith("ameide-secrets-local (pulumi:pulumi:Stack)\n")
    assert "├─ ameide:secrets:PlatformSecretAccess  platform\n│  ├─ " in out
    assert "kubernetes:external-secrets.io/v1:ExternalSecret  ameide/plausible-secrets" in out
    assert "Kubernetes objects: 1 ClusterSecretStore, " in out


def test_preview_when_unknown_stack_then_exit_1_and_stacks_listed(capsys) -> None:
    code, out, err = run(capsys, "--stack", "qa")
    assert (code, out) == (1, "")
    assert err.strip() == "no stack 'qa': Pulumi.qa.yaml does not exist (stacks: local, staging, production)"


def test_preview_when_declarations_invalid_then_exit_1_one_line_per_problem(capsys, write_module) -> None:
    write_module("analytics/plausible.py", "WORKLOAD = (\n")
    tree = write_module("core/graph.py", "WORKLOAD = 1\n")
    code, out, err = run(capsys, "--stack", "local", root=tree.parent)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "2 problems in workload declarations:",
        "workloads/analytics/plausible.py:1 (workload plausible): syntax error: '(' was never closed",
        "workloads/core/graph.py:1 (workload graph): WORKLOAD: the module must define WORKLOAD = WorkloadSecretsArgs(...), found int",
    ]


def test_preview_when_run_as_module_then_works_from_a_shell() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ameide_secrets", "preview", "--stack", "local", "--format", "yaml"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "kind: ClusterSecretStore" in completed.stdout


def test_preview_when_gated_stack_without_gate_base_then_says_gate_unchecked(capsys) -> None:
    code, _, err = run(capsys, "--stack", "production")
    assert code == 0
    assert "the rollout gate of stack production was NOT checked" in err


def test_preview_when_gate_base_is_not_a_revision_then_exit_1_with_git_error(capsys) -> None:
    code, out, err = run(capsys, "--stack", "production", "--gate-base", "no-such-revision")
    assert (code, out) == (1, "")
    assert err.startswith("git worktree add --detach --quiet")


def test_preview_when_adopting_then_text_marks_takeover_and_protection(capsys) -> None:
    _, staging, _ = run(capsys, "--stack", "staging")
    assert "ExternalSecret  monitoring/alertmanager-oauth2-proxy  [adopts existing object]" in staging
    _, production, _ = run(capsys, "--stack", "production")
    assert "ClusterSecretStore  ameide-vault  [protected]" in production


@pytest.mark.parametrize("fmt", ["text", "yaml"])
def test_preview_when_rotate_within_declared_then_the_bound_is_shown(
    capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str
) -> None:
    monkeypatch.setenv("ESO_CRDS_DIR", str(crds_dir(REPOSITORY)))
    root = project_tree(tmp_path)
    module = root / "workloads" / "web" / "www.py"
    module.write_text(module.read_text().replace('name="www-ameide",', 'name="www-ameide",\n            rotate_within="90d",'))
    code, out, err = run(capsys, "--stack", "local", "--format", fmt, root=root)
    assert (code, err) == (0, "")
    if fmt == "text":
        assert "ExternalSecret  ameide/www-ameide  [rotate within 90d]" in out
        assert "ameide/www-ameide-platform  [" not in out
    else:
        [www] = [d for d in yaml.safe_load_all(out) if d["metadata"]["name"] == "www-ameide"]
        assert www["metadata"]["annotations"][vocabulary.ANNOTATION_ROTATE_WITHIN] == "90d"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A git repository whose HEAD is this working tree (not the last commit), to change freely."""
    target = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(REPOSITORY), str(target)], check=True)
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPOSITORY, capture_output=True, check=True
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        if (REPOSITORY / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPOSITORY / relative, target / relative)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "--quiet", "--allow-empty", "-m", "the working tree"], cwd=target, check=True)
    return target


def preview_in(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ESO_CRDS_DIR": str(crds_dir(REPOSITORY))}
    return subprocess.run(
        [sys.executable, "-m", "ameide_secrets", "preview", *argv], cwd=repo, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def deployed_staging(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """--gate-base reads staging as this revision renders it (the worktree run is tested below)."""
    outputs = preview.preview(Project(), "staging").outputs
    calls: list[str] = []

    def stack_outputs_at(_root: Path, rev: str, stack: str) -> dict[str, Any]:
        calls.append(f"{stack}@{rev}")
        return outputs

    monkeypatch.setattr(revision, "stack_outputs_at", stack_outputs_at)
    return calls


@pytest.mark.parametrize("fmt", ["yaml", "text"])
def test_preview_when_gate_base_matches_then_gate_passes(capsys, deployed_staging: list[str], fmt: str) -> None:
    code, out, err = run(capsys, "--stack", "production", "--gate-base", "origin/main", "--format", fmt)
    assert (code, err) == (0, "")
    assert out
    assert deployed_staging == ["staging@origin/main"]


@pytest.mark.parametrize("fmt", ["yaml", "text"])
def test_preview_when_promotion_skips_staging_then_fails_naming_workload(
    capsys, deployed_staging: list[str], tmp_path: Path, fmt: str
) -> None:
    root = project_tree(tmp_path)
    module = root / "workloads" / "ai" / "langfuse_bootstrap.py"
    module.write_text(module.read_text().replace('rollout="local"', 'rollout="production"'))
    code, out, err = run(capsys, "--stack", "production", "--gate-base", "origin/main", "--format", fmt, root=root)
    assert (code, out) == (1, "")
    assert err.startswith(
        "rollout gate: workload 'langfuse-bootstrap' (workloads/ai/langfuse_bootstrap.py) "
        "is not owned by the deployed stack organization/ameide-secrets/staging"
    )


def broken_renderer(monkeypatch: pytest.MonkeyPatch, change: Callable[[dict[str, Any]], None]) -> None:
    """Make the ExternalSecret renderer apply `change` to plausible-secrets: a renderer regression."""
    render = manifests.external_secret

    def rendered(*args: Any, **kwargs: Any) -> dict[str, Any]:
        manifest = render(*args, **kwargs)
        if manifest["metadata"]["name"] == "plausible-secrets":
            change(manifest)
        return manifest

    monkeypatch.setattr(manifests, "external_secret", rendered)


def break_two_rules(es: dict[str, Any]) -> None:
    es["metadata"]["labels"].pop(vocabulary.LABEL_TEAM)
    es["spec"]["data"][0]["remoteRef"]["key"] = "growth/x"


@pytest.mark.parametrize("fmt", ["text", "json", "yaml"])
def test_preview_when_guardrails_violated_then_exit_1_one_line_per_violation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    broken_renderer(monkeypatch, break_two_rules)
    code, out, err = run(capsys, "--stack", "local", "--format", fmt)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "external-secret-key-prefix: ExternalSecret/ameide/plausible-secrets: spec.data[0].remoteRef.key 'growth/x' "
        "is outside the workload's prefix 'plausible/' (use a key under plausible/; another prefix needs a key_prefix under one the platform grants your team in platform/tenants.yaml)",
        "external-secret-labels: ExternalSecret/ameide/plausible-secrets: lacks label ameide.io/team "
        "(declare the ExternalSecret in workloads/<team>/<workload>.py: WorkloadSecrets sets them)",
    ]


def test_preview_when_crd_schema_broken_then_exit_1_naming_object_and_field(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken_renderer(monkeypatch, lambda es: es["spec"].update(refreshIntervall="1h"))
    code, out, err = run(capsys, "--stack", "local", "--format", "yaml")
    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith("eso-crd-schema: ExternalSecret/ameide/plausible-secrets: ")
    assert "refreshIntervall" in line


def test_preview_when_diff_against_same_revision_then_every_stack_unchanged(capsys, monkeypatch) -> None:
    # The base revision renders like the working tree here; the worktree run itself is tested below.
    monkeypatch.setattr(revision, "preview_at", lambda _root, _rev, stack, fmt: preview.render(Project(), stack, fmt).output)
    code, out, _ = run(capsys, "--diff-against", "HEAD")
    assert code == 0
    assert out.splitlines() == [f"== stack {s}: no changes" for s in ("local", "staging", "production")]


def test_preview_when_key_changed_then_diff_shows_only_that_field(clone: Path) -> None:
    module = clone / "workloads" / "analytics" / "plausible.py"
    module.write_text(module.read_text().replace('"plausible/secret-key-base"', '"plausible/secret-key-base-v2"'))
    completed = preview_in(clone, "--stack", "production", "--diff-against", "HEAD", "--format", "markdown")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        "### ameide-secrets: what this PR changes\n\n"
        "#### `production`: 0 added, 0 removed, 1 changed\n\n"
        "- ✏️ `ExternalSecret ameide/plausible-secrets`\n"
        '  - `spec.data[SECRET_KEY_BASE].remoteRef.key`: `"plausible/secret-key-base"` → `"plausible/secret-key-base-v2"`\n\n'
    )


def test_preview_when_markdown_without_diff_then_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        verb.main(["--stack", "local", "--format", "markdown"])
    assert exit_.value.code == 2
    assert "--format markdown goes with --diff-against" in capsys.readouterr().err


@pytest.mark.parametrize("stack", ["local", "staging", "production"])
def test_preview_when_yaml_from_plan_then_identical_to_program_run(stack: str) -> None:
    """The fast YAML view (no Pulumi run) shows exactly what the program registers."""
    project = Project()
    assert preview.render(project, stack, "yaml").output == preview.render_yaml(
        preview.kubernetes_objects(preview.preview(project, stack))
    )


def test_verify_when_stack_sets_store_name_and_eso_namespace_then_rules_judge_with_them() -> None:
    """A non-default ESO namespace must not let ExternalSecrets there pass review."""
    config = {**config_for("local"), "ameide-secrets:storeName": "vault", "ameide-secrets:esoNamespace": "eso"}
    rules = {v.rule for v in preview.verify(Project(), [external_secret_manifest("eso")], config)}
    # In ESO's namespace, and reading through ameide-vault, which is not this stack's store.
    assert {"external-secret-namespace", "external-secret-store-ref"} <= rules


def test_diff_when_a_consumed_key_is_removed_then_names_its_reader_and_fails_unless_allowed(clone: Path) -> None:
    reader = {"kind": "Deployment", "namespace": "ameide", "name": "plausible", "container": "app", "via": "env",
              "field": "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef"}  # fmt: skip
    edge = {"vault_key": "plausible/secret-key-base", "property": "value", "external_secret": "plausible-secrets",
            "namespace": "ameide", "secret": "plausible-secrets", "secret_key": "SECRET_KEY_BASE", "source": "data",
            "module": "workloads/analytics/plausible.py", "team": "analytics", "consumer": reader}  # fmt: skip
    report = {"stack": "staging", "namespaces": ["ameide"], "secret_keys_read": True, "edges": [edge], "unused_keys": [],
              "broken_refs": [], "optional_broken_refs": [], "undeclared": []}  # fmt: skip
    (clone / "lineage.json").write_text(json.dumps(report))
    module = clone / "workloads" / "analytics" / "plausible.py"
    module.write_text(module.read_text().replace('"SECRET_KEY_BASE": "plausible/secret-key-base",', ""))
    env = {**os.environ, "ESO_CRDS_DIR": str(crds_dir(REPOSITORY))}
    argv = [
        sys.executable,
        "-m",
        "ameide_secrets",
        "diff",
        "--base",
        "HEAD",
        "--stack",
        "staging",
        "--format",
        "markdown",
        "--lineage",
        "lineage.json",
    ]
    failed = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, check=False)
    allowed = subprocess.run([*argv, "--allow-breaking"], cwd=clone, env=env, capture_output=True, text=True, check=False)
    assert (failed.returncode, allowed.returncode) == (1, 0), failed.stderr + allowed.stderr
    assert failed.stderr == "1 removed Secret key still read by a container: pass --allow-breaking to accept\n"
    assert "The diff fails unless run with `--allow-breaking`" in failed.stdout
    assert "Allowed with `--allow-breaking` (a reviewer labelled the PR)" in allowed.stdout
    assert (
        "- 💥 **breaking** `ameide/plausible-secrets[SECRET_KEY_BASE]` (`ExternalSecret plausible-secrets`): "
        "`no longer written (was plausible/secret-key-base#value)`; read by: `Deployment ameide/plausible (container app) via env`"
    ) in failed.stdout
