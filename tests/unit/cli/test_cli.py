"""The one command line: `ameide-secrets --help` lists every verb; every verb exits 0 clean, 1 on findings or
bad input (with the message, never a traceback), 2 on usage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ameide_secrets.cli import VERBS
from ameide_secrets.project import REPOSITORY


def cli(*argv: str, cwd: Path = REPOSITORY, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user types it."""
    script = Path(sys.executable).parent / "ameide-secrets"
    return subprocess.run(
        [str(script), *argv], cwd=cwd, env=env or dict(os.environ), capture_output=True, text=True, check=False, timeout=120
    )


def test_help_when_asked_then_lists_every_verb_and_the_exit_codes() -> None:
    completed = cli("--help")
    assert completed.returncode == 0
    listed = [line.split()[0] for line in completed.stdout.splitlines() if line.startswith("  ") and line.split()]
    assert set(VERBS) <= set(listed)
    assert {"preview", "diff", "rollout", "legacy", "vault-check", "precheck", "smoke", "lineage", "recover"} == set(VERBS)
    assert "Exit codes: 0 clean, 1 findings or bad input, 2 usage." in completed.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "yaml"])
def test_preview_when_run_as_the_installed_script_from_another_directory_then_the_program_runs(fmt: str, tmp_path: Path) -> None:
    """The script's own folder is .venv/bin: the program still finds `components` beside its __main__.py."""
    completed = cli("preview", "--stack", "local", "--format", fmt, "--root", str(REPOSITORY), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "plausible-secrets" in completed.stdout


def test_module_when_run_with_python_m_then_same_command_line() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ameide_secrets", "rollout", "--format", "json"], cwd=REPOSITORY, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("[")


@pytest.mark.parametrize(
    "argv",
    [
        ["no-such-verb"],
        ["preview", "--format", "xml"],
        ["smoke"],
        ["legacy"],
        ["diff"],
        ["lineage"],
        ["lineage", "--stack", "staging", "--format", "yaml"],
    ],
)
def test_usage_when_wrong_then_exit_2_with_argparse_usage(argv: list[str]) -> None:
    completed = cli(*argv)
    assert completed.returncode == 2
    assert "usage: ameide-secrets" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_vault_check_when_max_age_is_not_a_bound_then_usage_naming_the_form() -> None:
    completed = cli("vault-check", "--stack", "staging", "--max-age", "90")
    assert completed.returncode == 2
    assert "argument --max-age: '90' must be a duration such as \"90d\"" in completed.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["preview", "--stack", "qa"], "no stack 'qa': Pulumi.qa.yaml does not exist"),
        (["smoke", "--stack", "qa"], "no stack 'qa'"),
        (["precheck", "--stack", "local"], "the stack has no kubeContext (it renders to a directory): pass --context"),
        (["smoke", "--stack", "staging", "--context", "nowhere"], "context 'nowhere'"),
        (["lineage", "--stack", "local"], "the stack has no kubeContext (it renders to a directory): pass --context"),
        (["lineage", "--stack", "staging", "--context", "nowhere"], "context 'nowhere'"),
        (["vault-check", "--stack", "staging"], "set VAULT_ADDR and VAULT_TOKEN"),
        (["legacy", "compare", "missing.yaml", "--stack", "staging"], "missing.yaml: cannot read it as YAML"),
    ],
)
def test_bad_input_when_any_verb_then_exit_1_naming_it_without_traceback(argv: list[str], message: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "KUBECONFIG"))}
    env["KUBECONFIG"] = str(tmp_path / "kubeconfig")  # an empty kubeconfig: no context is there
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    completed = cli(*argv, env=env)
    assert completed.returncode == 1, completed.stderr
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_any_verb_when_run_outside_a_project_then_exit_1_saying_where_to_run(tmp_path: Path) -> None:
    completed = cli("rollout", cwd=tmp_path)
    assert completed.returncode == 1
    assert completed.stderr.strip() == f"{tmp_path.resolve()} holds no Pulumi.yaml: run from the project's root, or pass --root"


def test_rollout_when_run_from_another_root_then_reads_that_project(write_module) -> None:
    tree = write_module("core/graph.py", "WORKLOAD = 1\n")
    completed = cli("rollout", "--root", str(tree.parent))
    assert completed.returncode == 1
    assert "workloads/core/graph.py:1 (workload graph): WORKLOAD: the module must define WORKLOAD" in completed.stderr
