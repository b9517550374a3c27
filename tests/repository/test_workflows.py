"""The CI workflows, split by trust: PR jobs hold no credential a deploy uses, and run no write token."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from ameide_secrets import checkpoints
from ameide_secrets.offline.diff import MARKDOWN_LIMIT
from ameide_secrets.project import REPOSITORY

from helpers import STACKS

WORKFLOWS = REPOSITORY / ".github" / "workflows"
FILES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
_SECRET = re.compile(r"secrets\.([A-Z0-9_]+)")


def load(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return document


@pytest.fixture(scope="module")
def main_workflow() -> dict[str, Any]:
    return load("ameide-secrets.yml")


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def secrets_of(job: dict[str, Any]) -> set[str]:
    return set(_SECRET.findall(yaml.safe_dump(job)))


def scripts(name: str) -> list[str]:
    return [step["run"] for job in load(name)["jobs"].values() for step in job.get("steps", []) if "run" in step]


def pr_jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Jobs that run on pull requests: every job not restricted to pushes or to a reusable deploy."""
    return {
        name: job
        for name, job in workflow["jobs"].items()
        if "uses" not in job and "github.event_name == 'push'" not in job.get("if", "")
    }


def test_workflow_when_pr_opened_then_runs_make_test(main_workflow) -> None:
    assert "pull_request" in main_workflow["on"]
    assert any(s.get("run") == "make test" for s in steps(main_workflow["jobs"]["test"]))


def test_workflows_when_read_then_no_pull_request_target_anywhere() -> None:
    for name in FILES:
        assert "pull_request_target" not in load(name)["on"], name


@pytest.mark.parametrize("name", FILES)
def test_workflows_when_action_used_then_pinned_to_a_commit(name: str) -> None:
    uses = [s["uses"] for job in load(name)["jobs"].values() for s in job.get("steps", []) if "uses" in s]
    assert uses
    assert [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u)] == []


def test_pr_jobs_when_code_checked_out_then_credentials_not_persisted(main_workflow) -> None:
    for name, job in pr_jobs(main_workflow).items():
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_pr_jobs_when_run_then_no_deploy_credential_and_no_write_permission(main_workflow) -> None:
    up = load("pulumi-up.yml")
    deploy = secrets_of(up["jobs"]["up"])
    assert deploy == {"PULUMI_ACCESS_TOKEN", "KUBECONFIG", "VAULT_TOKEN", "VAULT_CHECK_TOKEN"}
    for name, job in pr_jobs(main_workflow).items():
        assert not secrets_of(job) & deploy, name
        assert all(secret.endswith(("_PREVIEW", "_PREVIEW_STAGING", "_PREVIEW_PRODUCTION")) for secret in secrets_of(job)), name
        assert "permissions" not in job or all(v in ("read", "none") for v in job["permissions"].values()), name
    assert main_workflow["permissions"] == {"contents": "read"}


def test_pr_jobs_when_test_and_diff_then_no_credentials_at_all(main_workflow) -> None:
    assert secrets_of(main_workflow["jobs"]["test"]) == set()
    assert secrets_of(main_workflow["jobs"]["diff"]) == set()


def test_preview_when_pr_from_fork_then_skipped_and_only_preview_identity_used(main_workflow) -> None:
    job = main_workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == STACKS
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    [preview] = [s for s in steps(job) if "pulumi preview" in s.get("run", "")]
    assert "--policy-pack policy" in preview["run"]
    assert "vault:skipChildToken=true" in preview["run"]
    assert any(s.get("run") == "make venvs" for s in steps(job))


ALLOW = "${{ contains(github.event.pull_request.labels.*.name, 'allow-breaking-secrets') }}"
DIFF = 'make -s diff BASE="origin/$BASE_REF"'
WITH_LINEAGE = 'LINEAGE="$lineage" ALLOW_BREAKING="$ALLOW_BREAKING"'


def test_diff_when_pr_opened_then_uploaded_for_the_comment_job_not_posted(main_workflow) -> None:
    job = main_workflow["jobs"]["diff"]
    runs = "\n".join(s["run"] for s in steps(job) if "run" in s)
    # A breaking diff exits 1 after writing the whole comment: still uploaded, and the last step fails the job.
    assert f"{DIFF} FORMAT=markdown {WITH_LINEAGE} > pr-diff/diff.md || [[ -s pr-diff/diff.md ]]" in runs
    [step] = [s for s in steps(job) if "FORMAT=markdown" in s.get("run", "")]
    assert step["env"] == {
        "BASE_REF": "${{ github.base_ref }}",
        "PR_NUMBER": "${{ github.event.pull_request.number }}",
        "ALLOW_BREAKING": ALLOW,
    }
    [upload] = [s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "pr-diff"
    # A comment cut to fit says the whole diff is in this job's log: it is, after the upload (never blocking it).
    assert steps(job)[-1]["run"].rstrip().endswith(f"{DIFF} {WITH_LINEAGE}")
    assert steps(job)[-1]["env"]["ALLOW_BREAKING"] == ALLOW
    assert steps(job).index(upload) < len(steps(job)) - 1


def test_diff_when_previews_ran_then_it_reads_their_lineage_and_a_label_allows_breaking(main_workflow) -> None:
    job = main_workflow["jobs"]["diff"]
    assert job["needs"] == "preview"
    # Forks skip the preview: the diff runs all the same, without a blast radius.
    assert job["if"] == "${{ !cancelled() && github.event_name == 'pull_request' }}"
    [download] = [s for s in steps(job) if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"] == {"pattern": "lineage-*", "merge-multiple": True, "path": "lineage"}
    assert {"labeled", "unlabeled"} <= set(main_workflow["on"]["pull_request"]["types"])
    preview = main_workflow["jobs"]["preview"]
    [lineage] = [s for s in steps(preview) if "ameide-secrets lineage" in s.get("run", "")]
    assert '--output "lineage/$STACK_NAME.json"' in lineage["run"]
    # The preview identity's kubeconfig only: no Pulumi or Vault token in reach.
    assert not secrets_of({"steps": [lineage]})
    [upload] = [s for s in steps(preview) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "lineage-${{ matrix.stack }}"


def test_comment_workflow_when_diff_uploaded_then_posted_without_running_pr_code() -> None:
    workflow = load("pr-comment.yml")
    assert workflow["on"] == {"workflow_run": {"workflows": ["ameide-secrets"], "types": ["completed"]}}
    [job] = workflow["jobs"].values()
    assert not [s for s in steps(job) if s.get("uses", "").startswith("actions/checkout@") or "make " in s.get("run", "")]
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    script = next(s["run"] for s in steps(job) if "run" in s)
    # The artifact is PR-controlled: the number is validated and tied to the head that produced it.
    assert '[[ "$number" =~ ^[0-9]+$ ]]' in script
    assert "HEAD_SHA" in script


def test_workflow_when_merged_then_up_local_then_staging_then_production(main_workflow) -> None:
    jobs = main_workflow["jobs"]
    assert main_workflow["on"]["push"]["branches"] == ["main"]
    assert jobs["up-local"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert jobs["up-local"]["needs"] == "test"
    assert jobs["up-staging"]["needs"] == "up-local"
    assert jobs["up-production"]["needs"] == "up-staging"
    assert [jobs[f"up-{s}"]["with"]["stack"] for s in STACKS] == STACKS
    assert {jobs[f"up-{s}"]["uses"] for s in STACKS} == {"./.github/workflows/pulumi-up.yml"}
    # No repository secret is handed down: deploy credentials are the environment's own.
    assert not [s for s in STACKS if "secrets" in jobs[f"up-{s}"]]


def test_up_workflow_when_called_then_creates_stack_and_runs_up_with_policy_pack_in_its_environment() -> None:
    workflow = load("pulumi-up.yml")
    assert workflow["on"]["workflow_call"]["inputs"]["stack"]["required"] is True
    job = workflow["jobs"]["up"]
    assert job["environment"] == "${{ inputs.stack }}"
    runs = [s["run"] for s in steps(job) if "run" in s]
    assert 'pulumi stack select --create "$STACK"' in runs
    assert 'pulumi up --yes --stack "$STACK" --policy-pack policy' in runs
    assert "make venvs" in runs
    # Vault is checked for every declared key before the stack that will read them is changed.
    check = next(i for i, s in enumerate(steps(job)) if "ameide-secrets vault-check" in s.get("run", ""))
    up = next(i for i, s in enumerate(steps(job)) if "pulumi up" in s.get("run", ""))
    assert check < up
    precheck = next(i for i, s in enumerate(steps(job)) if "ameide-secrets precheck" in s.get("run", ""))
    assert precheck < up
    # What waitFor cannot see (a Ready left from the previous spec) is checked after every deploy.
    smoke = next(i for i, s in enumerate(steps(job)) if "ameide-secrets smoke" in s.get("run", ""))
    assert up < smoke
    assert steps(job)[smoke]["if"] == "inputs.stack != 'local'"
    assert job["env"]["STACK"].endswith("/ameide-secrets/${{ inputs.stack }}")


def test_workflows_when_read_then_no_secret_value_inline() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "TOKEN" in line and ":" in line and not line.lstrip().startswith("#"):
                value = line.split(":", 1)[1].strip()
                assert value == "" or value.startswith("${{") or "!=" in line, f"{path.name}: {line.strip()}"


def test_pre_commit_when_configured_then_runs_what_make_test_runs_first_from_the_lock() -> None:
    config = yaml.safe_load((REPOSITORY / ".pre-commit-config.yaml").read_text())
    [local] = config["repos"]
    assert local["repo"] == "local"  # nothing fetched beside the hashed lock
    entries = [hook["entry"] for hook in local["hooks"]]
    makefile = (REPOSITORY / "Makefile").read_text()
    for tool in ("ruff check", "ruff format", "mypy"):
        assert any(entry.startswith(f".venv/bin/{tool}") for entry in entries), tool
        assert f"$(VENV)/bin/{tool}" in makefile, tool


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_workflow_when_a_step_runs_a_script_then_no_expression_is_spliced_into_it(name: str) -> None:
    """Untrusted values (a branch name, an input) reach `run:` only through `env:`: an expression in the
    script itself is template injection (zizmor's finding, also run by make test)."""
    workflow = load(name)
    spliced = [
        f"{job_name}: {step.get('name', step['run'][:40])}"
        for job_name, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if "${{" in step.get("run", "")
    ]
    assert spliced == []


@pytest.mark.parametrize("name", ["ameide-secrets.yml", "pulumi-up.yml"])
def test_workflow_when_it_holds_a_pulumi_token_then_only_the_steps_running_pulumi_see_it(name: str) -> None:
    workflow = load(name)
    for job in workflow["jobs"].values():
        assert "PULUMI_ACCESS_TOKEN" not in (job.get("env") or {})
        for step in job.get("steps", []):
            if "PULUMI_ACCESS_TOKEN" in (step.get("env") or {}):
                assert step["run"].startswith("pulumi "), step.get("name")


def test_codeowners_when_it_names_a_folder_then_the_folder_exists() -> None:
    """A moved package keeps its reviewers: CODEOWNERS names no folder that is gone."""
    entries = [
        line.split()[0] for line in (REPOSITORY / ".github" / "CODEOWNERS").read_text().splitlines() if line.startswith("/")
    ]
    assert [entry for entry in entries if entry.endswith("/") and not (REPOSITORY / entry.strip("/")).is_dir()] == []


@pytest.fixture(scope="module")
def comment_step() -> dict[str, Any]:
    [job] = load("pr-comment.yml")["jobs"].values()
    [step] = [s for s in steps(job) if "run" in s]
    return step


BOT = {"login": "github-actions[bot]", "type": "Bot"}


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq runs the filter gh api --jq runs")
def test_comment_workflow_when_someone_plants_the_marker_then_only_the_bots_own_comment_is_edited(comment_step) -> None:
    marker = comment_step["env"]["MARKER"]
    comments = [
        {"id": 1, "user": {"login": "mallory", "type": "User"}, "body": f"{marker}\nno changes"},
        {"id": 2, "user": {"login": "other-app[bot]", "type": "Bot"}, "body": f"{marker}\nno changes"},
        {"id": 3, "user": BOT, "body": "a comment of another workflow"},
        {"id": 4, "user": BOT, "body": f"{marker}\nthe diff"},
    ]
    found = subprocess.run(
        ["jq", comment_step["env"]["OWN_COMMENT"]],
        input=json.dumps(comments),
        env={**os.environ, "MARKER": marker},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.split() == ["4"]
    assert '--jq "$OWN_COMMENT"' in comment_step["run"]


def test_comment_workflow_when_diff_too_long_then_posts_a_note_not_a_silently_cut_diff(comment_step) -> None:
    script = comment_step["run"]
    # The bound the renderer cuts to (with a note) is the one the job checks; nothing cuts the file itself.
    assert f"(( $(wc -c < pr-diff/diff.md) <= {MARKDOWN_LIMIT} ))" in script
    assert not re.search(r"\b(head|cut|dd)\b.*pr-diff/diff\.md", script)
    assert len(comment_step["env"]["MARKER"]) + 1 + MARKDOWN_LIMIT < 65536  # GitHub's limit, in characters


@pytest.mark.parametrize("name", FILES)
def test_workflow_when_it_runs_a_script_then_nothing_is_downloaded_or_piped_to_a_shell(name: str) -> None:
    """Tools come from actions pinned to commits, hashed locks and code that checks its downloads' digests."""
    assert [s for s in scripts(name) if re.search(r"\b(curl|wget)\b|\|\s*(ba|z)?sh\b", s)] == []


@pytest.mark.parametrize("name", ["ameide-secrets.yml", "pulumi-up.yml"])
def test_workflow_when_a_job_runs_pulumi_then_the_cli_comes_from_a_pinned_action_at_the_engines_version(name: str) -> None:
    workflow = load(name)
    engines = re.search(r"^PULUMI_VERSION=v(\S+)", (REPOSITORY / "lab" / "engines" / "build.sh").read_text(), re.MULTILINE)
    assert engines
    for job_name, job in workflow["jobs"].items():
        if not any(s.get("run", "").startswith("pulumi ") for s in job.get("steps", [])):
            continue
        [cli] = [s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@")]
        assert re.fullmatch(r"pulumi/actions@[0-9a-f]{40}", cli["uses"]), job_name
        # Install only (no `command`), of exactly the CLI `make engines` builds and the e2e tests run.
        assert set(cli["with"]) == {"pulumi-version"}, job_name
        assert cli["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}", job_name
        assert workflow["env"]["PULUMI_VERSION"] == engines.group(1), job_name


@pytest.mark.parametrize("name", FILES)
def test_workflow_when_it_uses_a_secret_then_only_in_a_steps_env_never_for_the_whole_job(name: str) -> None:
    """A secret at job or workflow level reaches every step, the install steps included."""
    workflow = load(name)
    assert not _SECRET.findall(yaml.safe_dump(workflow.get("env") or {}))
    for job_name, job in workflow["jobs"].items():
        assert not _SECRET.findall(yaml.safe_dump(job.get("env") or {})), job_name
        for step in job.get("steps", []):
            if _SECRET.findall(yaml.safe_dump(step)):
                assert "uses" not in step, step.get("name")
                assert not re.search(r"\b(make|pip)\b", step["run"]), step.get("name")


def test_installs_when_pip_runs_then_only_hashed_pins_and_this_checkout_without_resolving() -> None:
    """The workflows install through make; every pip install in them or in the Makefile reads a hashed lock,
    or installs this checkout with --no-deps (nothing resolved, nothing fetched beside the lock)."""
    texts = [script for name in FILES for script in scripts(name)] + [(REPOSITORY / "Makefile").read_text()]
    installs = [line.strip() for text in texts for line in text.splitlines() if re.search(r"\bpip3? install\b", line)]
    assert installs
    assert [
        line
        for line in installs
        if not re.search(r"--require-hashes .*-r \S+", line) and not ("--no-deps" in line and line.endswith("--editable ."))
    ] == []


@pytest.mark.parametrize("name", FILES)
def test_workflow_when_a_step_runs_pulumi_then_checkpoints_skipped_exactly_for_a_preview(name: str) -> None:
    """checkpoints.py's rule, as the workflows apply it: a preview persists nothing, an up must keep them."""
    workflow = load(name)
    assert checkpoints.VARIABLE not in (workflow.get("env") or {})
    ran = []
    for job in workflow["jobs"].values():
        assert checkpoints.VARIABLE not in (job.get("env") or {})
        for step in job.get("steps", []):
            for command in re.findall(r"^\s*pulumi (\w+)", step.get("run", ""), re.MULTILINE):
                env = {k: str(v) for k, v in (step.get("env") or {}).items()}
                assert env == checkpoints.environment(command, env), (step.get("name"), command)
                ran.append(command)
    assert ran or name == "pr-comment.yml"
