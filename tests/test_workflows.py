"""The CI workflow a team's PR goes through: tests, one sticky diff comment, previews, ordered rollout."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.settings import ROOT

from conftest import STACKS

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return document


@pytest.fixture(scope="module")
def main_workflow() -> dict[str, Any]:
    return load("ameide-secrets.yml")


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def test_workflow_when_pr_opened_then_runs_make_test(main_workflow) -> None:
    assert "pull_request" in main_workflow["on"]
    assert any(s.get("run") == "make test" for s in steps(main_workflow["jobs"]["test"]))


def test_workflow_when_pr_opened_then_diff_of_all_stacks_posted_as_one_sticky_comment(main_workflow) -> None:
    job = main_workflow["jobs"]["diff"]
    runs = [s["run"] for s in steps(job) if "run" in s]
    assert any(r.startswith("make diff BASE=origin/${{ github.base_ref }} FORMAT=markdown") and "STACK=" not in r for r in runs)
    [comment] = [s for s in steps(job) if s.get("uses", "").startswith("marocchino/sticky-pull-request-comment@")]
    assert comment["with"]["path"] == "diff.md"
    checkout = next(s for s in steps(job) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0


def test_workflow_when_credentials_configured_then_pulumi_preview_each_stack_with_policy_pack(main_workflow) -> None:
    job = main_workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == STACKS
    [action] = [s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@")]
    assert action["with"]["command"] == "preview"
    assert action["with"]["comment-on-pr"] is True
    assert action["with"]["policyPacks"] == "policy"
    assert action["if"] == "env.PULUMI_ACCESS_TOKEN != ''"
    assert job["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def test_workflow_when_merged_then_up_local_then_staging_then_production(main_workflow) -> None:
    jobs = main_workflow["jobs"]
    assert main_workflow["on"]["push"]["branches"] == ["main"]
    assert jobs["up-local"]["if"] == "github.event_name == 'push'"
    assert jobs["up-local"]["needs"] == "test"
    assert jobs["up-staging"]["needs"] == "up-local"
    assert jobs["up-production"]["needs"] == "up-staging"
    assert [jobs[f"up-{s}"]["with"]["stack"] for s in STACKS] == STACKS
    assert {jobs[f"up-{s}"]["uses"] for s in STACKS} == {"./.github/workflows/pulumi-up.yml"}


def test_up_workflow_when_called_then_pulumi_up_with_policy_pack_in_stack_environment() -> None:
    workflow = load("pulumi-up.yml")
    assert workflow["on"]["workflow_call"]["inputs"]["stack"]["required"] is True
    job = workflow["jobs"]["up"]
    assert job["environment"] == "${{ inputs.stack }}"
    [action] = [s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@")]
    assert action["with"]["command"] == "up"
    assert action["with"]["policyPacks"] == "policy"
    assert action["with"]["stack-name"].endswith("/ameide-secrets/${{ inputs.stack }}")


def test_workflows_when_read_then_no_secret_value_inline() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "TOKEN" in line and ":" in line and not line.lstrip().startswith("#"):
                value = line.split(":", 1)[1].strip()
                assert value == "" or value.startswith("${{") or "!=" in line, f"{path.name}: {line.strip()}"
