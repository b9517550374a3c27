"""rendering/preview_access.py: the PR preview identity may read and dry-run, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from ameide_secrets.declare.settings import SettingsError
from ameide_secrets.render import preview_access

from helpers import STACKS, settings_for
from kube_cel import evaluate

PREVIEW = "system:serviceaccount:ameide-ci:ameide-secrets-preview"


def judge(policy: dict[str, Any], user: str, operation: str, resource: str, dry_run: bool) -> list[str]:
    """What the API server denies this request with under `policy` ([] = admitted): matchConditions, then validations."""
    [rule] = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule == {"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"]}
    request = {
        "operation": operation,
        "dryRun": dry_run,
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "resource": {"group": "", "version": "v1", "resource": resource},
    }
    activation = {"request": request, "object": None, "oldObject": None, "params": None, "namespaceObject": None}
    if not all(evaluate(c["expression"], activation) is True for c in policy["spec"]["matchConditions"]):
        return []
    return [
        evaluate(v["messageExpression"], activation)
        for v in policy["spec"]["validations"]
        if evaluate(v["expression"], activation) is not True
    ]


@pytest.fixture
def policy() -> dict[str, Any]:
    return preview_access.dry_run_policy(settings_for("staging", previewIdentity=PREVIEW))


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE", "DELETE", "CONNECT"])
@pytest.mark.parametrize("resource", ["externalsecrets", "secrets", "serviceaccounts/token", "pods/exec", "clusterrolebindings"])
def test_dry_run_policy_when_preview_identity_writes_for_real_then_refused(
    policy: dict[str, Any], operation: str, resource: str
) -> None:
    assert judge(policy, PREVIEW, operation, resource, dry_run=False) == [
        f"{PREVIEW} previews only: {operation} {resource} must be a dry run (deploys run as the platform identity, from main)"
    ]


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_dry_run_policy_when_preview_identity_dry_runs_then_admitted(policy: dict[str, Any], operation: str) -> None:
    assert judge(policy, PREVIEW, operation, "externalsecrets", dry_run=True) == []


@pytest.mark.parametrize("user", ["system:serviceaccount:ameide-ci:ameide-secrets", "oidc:alice@ameide.io", PREVIEW + "-other"])
def test_dry_run_policy_when_other_identity_writes_then_not_judged(policy: dict[str, Any], user: str) -> None:
    assert judge(policy, user, "CREATE", "externalsecrets", dry_run=False) == []


def test_cluster_role_when_rendered_then_no_secrets_and_writes_only_where_admission_judges() -> None:
    role = preview_access.cluster_role(settings_for("staging"))
    verbs = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert not [key for key in verbs if key[1] in {"secrets", "*"} or key[0] == "*"]
    writable = {key for key, granted in verbs.items() if granted & {"create", "update", "patch", "delete", "deletecollection"}}
    assert writable == {
        ("external-secrets.io", "externalsecrets"),
        ("external-secrets.io", "clustersecretstores"),
        ("", "serviceaccounts"),
    }
    # The API server exempts admission policies from admission: a write verb there would be real.
    assert all(
        granted == {"get", "list", "watch"} for (group, _), granted in verbs.items() if group == "admissionregistration.k8s.io"
    )
    assert not any("delete" in granted or "escalate" in granted or "bind" in granted for granted in verbs.values())


def test_cluster_role_when_rendered_then_lineage_may_get_and_list_every_workload_kind_and_nothing_under_them() -> None:
    role = preview_access.cluster_role(settings_for("staging"))
    granted = {
        (group, resource): rule["verbs"]
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    workloads = {("", "pods"), *(("apps", r) for r in ("deployments", "statefulsets", "daemonsets", "replicasets")),
                 ("batch", "jobs"), ("batch", "cronjobs")}  # fmt: skip
    assert {key: granted[key] for key in workloads} == {key: ["get", "list"] for key in workloads}
    assert not [key for key in granted if "/" in key[1]]


@pytest.mark.parametrize(
    ("identity", "subject"),
    [
        (PREVIEW, {"kind": "ServiceAccount", "namespace": "ameide-ci", "name": "ameide-secrets-preview"}),
        ("oidc:ci-preview", {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:ci-preview"}),
        # Four parts, or the service-account prefix without a name: a user, not a ServiceAccount.
        ("oidc:team:ci:preview", {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:team:ci:preview"}),
        (
            "system:serviceaccount:ci",
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:serviceaccount:ci"},
        ),
    ],
)
def test_binding_when_identity_given_then_subject_is_that_identity(identity: str, subject: dict[str, str]) -> None:
    binding = preview_access.cluster_role_binding(settings_for("staging", previewIdentity=identity))
    assert binding["subjects"] == [subject]
    assert binding["roleRef"]["name"] == preview_access.role_name(settings_for("staging"))


@pytest.mark.parametrize("stack", STACKS)
def test_objects_when_stack_then_preview_access_exactly_where_previews_reach_a_cluster(stack: str) -> None:
    settings = settings_for(stack)
    kinds = [o["kind"] for o in preview_access.objects(settings)]
    expected = (
        []
        if settings.preview_identity is None
        else ["ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    )
    assert kinds == expected
    # local renders files; staging and production are previewed against their clusters on every PR.
    assert (settings.kube_context is not None) == bool(kinds)


def test_settings_when_preview_identity_is_platform_identity_then_refused() -> None:
    with pytest.raises(SettingsError, match="previewIdentity must differ from platformIdentity"):
        settings_for("staging", previewIdentity="system:serviceaccount:ameide-ci:ameide-secrets")
