"""Pure functions: what the identity of pull-request previews may do in a cluster — read and dry-run.

A PR's preview runs before review, so its credentials must not deploy. `pulumi preview` reads the
live objects and, with server-side apply, sends each change as a dry-run request, which RBAC
authorises like a real write. So the preview identity gets write verbs on the kinds whose dry run
is safe to grant, and a ValidatingAdmissionPolicy refuses every request of that identity that is
not a dry run: the API server, not CI discipline, keeps a PR preview from changing anything.
Rendered only when the stack sets `previewIdentity`.
"""

from __future__ import annotations

import json
from typing import Any

from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.lineage.consumers import RESOURCES
from ameide_secrets.render import admission
from ameide_secrets.vocabulary import ADMISSION_API_VERSION, ESO_GROUP, PLATFORM_LABELS, RBAC_API_VERSION

_READ = ["get", "list", "watch"]
# What server-side apply's dry run needs: create for new objects, patch (and update) for changed ones.
_DRY_RUN_WRITE = ["create", "update", "patch"]


def role_name(settings: StackSettings) -> str:
    return f"{settings.store_name}-preview"


def cluster_role(settings: StackSettings) -> dict[str, Any]:
    """Read what the program manages; dry-run writes only where admission judges the request."""
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": {"name": role_name(settings), "labels": dict(PLATFORM_LABELS)},
        "rules": [
            {"apiGroups": [ESO_GROUP], "resources": ["externalsecrets", "clustersecretstores"], "verbs": _READ + _DRY_RUN_WRITE},
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": _READ + _DRY_RUN_WRITE},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": _READ},
            # Read only: RBAC refuses even a dry-run binding the requester could not grant itself,
            # and the API server exempts admission policies and their bindings from admission
            # policies, so a write verb there would be a real write. The preview shows their inputs.
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles", "clusterrolebindings"], "verbs": _READ},
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
                "verbs": _READ,
            },
            # `lineage` (lineage/consumers.py): the workloads' pod templates, which name Secrets and keys, never hold
            # a value. get and list only: no watch, no subresource (not pods/log, not pods/exec).
            *(
                {"apiGroups": [group], "resources": list(resources), "verbs": ["get", "list"]}
                for group, resources in RESOURCES.items()
            ),
            # No Secrets, in any namespace: a preview never needs a value.
        ],
    }


def cluster_role_binding(settings: StackSettings) -> dict[str, Any]:
    assert settings.preview_identity is not None
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": role_name(settings), "labels": dict(PLATFORM_LABELS)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name(settings)},
        "subjects": [_subject(settings.preview_identity)],
    }


def _subject(username: str) -> dict[str, str]:
    # A service account's username is system:serviceaccount:<namespace>:<name>; RBAC binds it as a ServiceAccount.
    parts = username.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return {"kind": "ServiceAccount", "namespace": parts[2], "name": parts[3]}
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": username}


def dry_run_policy(settings: StackSettings) -> dict[str, Any]:
    """Every request of the preview identity, on every resource and subresource, must be a dry run."""
    identity = json.dumps(settings.preview_identity)
    return {
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": f"{role_name(settings)}-dry-run-only", "labels": dict(PLATFORM_LABELS)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                # '*/*' is every resource and every subresource (exec, status, token requests too).
                "resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"]}],
            },
            # Only the preview identity's requests are evaluated at all.
            "matchConditions": [{"name": "preview-identity", "expression": f"request.userInfo.username == {identity}"}],
            "validations": [
                {
                    "expression": "request.dryRun == true",
                    "message": f"{settings.preview_identity} previews only: every request must be a dry run",
                    "messageExpression": (
                        f'{identity} + " previews only: " + request.operation + " " + request.resource.resource + '
                        '" must be a dry run (deploys run as the platform identity, from main)"'
                    ),
                    "reason": "Forbidden",
                }
            ],
        },
    }


def objects(settings: StackSettings) -> list[dict[str, Any]]:
    """The preview identity's role, its binding, the dry-run-only policy and its binding; none without `previewIdentity`."""
    if settings.preview_identity is None:
        return []
    policy = dry_run_policy(settings)
    return [cluster_role(settings), cluster_role_binding(settings), policy, admission.binding(policy)]
