"""The reviewer's diff between two previews: objects and changed fields, risky changes called out."""

from __future__ import annotations

import copy
from typing import Any

from ameide_secrets.offline import diff


def es(name: str, key: str = "plausible/a", **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": "ameide", "annotations": dict(annotations)},
        "spec": {
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "ameide-vault"},
            "data": [{"secretKey": "A", "remoteRef": {"key": key}}, {"secretKey": "B", "remoteRef": {"key": "plausible/b"}}],
        },
    }


def preview(*objects: dict[str, Any], protect: bool = False, provider: str = "kubernetes") -> dict[str, Any]:
    resource = {"custom": True, "protect": protect, "provider": f"urn:pulumi:s::p::pulumi:providers:kubernetes::{provider}::id"}
    return {"resources": [{**resource, "type": f"kubernetes:{o['apiVersion']}:{o['kind']}", "inputs": o} for o in objects]}


def test_diff_when_identical_then_empty_and_says_no_changes() -> None:
    result = diff.diff("staging", preview(es("a")), preview(es("a")))
    assert result.empty
    assert diff.render_text([result]) == "== stack staging: no changes"


def test_diff_when_object_added_and_removed_then_listed_by_kind_namespace_name() -> None:
    result = diff.diff("staging", preview(es("old")), preview(es("new")))
    assert result.added == [("ExternalSecret", "ameide", "new")]
    assert result.removed == [("ExternalSecret", "ameide", "old")]


def test_diff_when_one_key_changes_then_only_that_field_shown() -> None:
    result = diff.diff("staging", preview(es("a")), preview(es("a", key="plausible/z")))
    assert result.changed == {
        ("ExternalSecret", "ameide", "a"): [diff.FieldChange("spec.data[A].remoteRef.key", "plausible/a", "plausible/z")]
    }


def test_diff_when_data_entries_reordered_then_no_change() -> None:
    before = es("a")
    after = copy.deepcopy(before)
    after["spec"]["data"].reverse()
    assert diff.diff("staging", preview(before), preview(after)).empty


def test_diff_when_protection_dropped_then_called_out() -> None:
    result = diff.diff("production", preview(es("a"), protect=True), preview(es("a")))
    assert result.callouts == ["ExternalSecret ameide/a: NO LONGER PROTECTED: pulumi may delete it"]


def test_diff_when_provider_changes_then_replacement_called_out() -> None:
    result = diff.diff("staging", preview(es("a")), preview(es("a"), provider="kubernetes-adopt"))
    assert result.callouts == [
        "ExternalSecret ameide/a: provider kubernetes -> kubernetes-adopt: Pulumi replaces it (delete, then create); "
        "see docs/migration.md step 6"
    ]


def test_diff_when_externalsecret_removed_then_says_whether_secret_survives() -> None:
    orphaned = diff.diff("staging", preview(es("a", **{"pulumi.com/deletionPropagationPolicy": "orphan"})), preview())
    collected = diff.diff("local", preview(es("a")), preview())
    assert orphaned.callouts == ["ExternalSecret ameide/a is deleted: its Secret stays (orphaned)"]
    assert collected.callouts == ["ExternalSecret ameide/a is deleted: its Secret is garbage-collected with it"]


def test_diff_when_store_or_store_ref_changes_then_called_out() -> None:
    store = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "ameide-vault"},
        "spec": {"x": 1},
    }
    moved = es("a")
    moved["spec"]["secretStoreRef"]["name"] = "other"
    result = diff.diff("staging", preview(store, es("a")), preview({**store, "spec": {"x": 2}}, moved))
    assert result.callouts == [
        "ClusterSecretStore ameide-vault: secret store change, every ExternalSecret reading through it is affected",
        "ExternalSecret ameide/a: reads from another store",
    ]


def test_render_markdown_when_changes_then_pr_comment_with_callouts_first() -> None:
    result = diff.diff("production", preview(es("a"), protect=True), preview(es("a", key="plausible/z")))
    assert diff.render_markdown([result]) == (
        "### ameide-secrets: what this PR changes\n\n"
        "#### `production`: 0 added, 0 removed, 1 changed\n\n"
        "> **ExternalSecret ameide/a: NO LONGER PROTECTED: pulumi may delete it**\n\n"
        "- ✏️ `ExternalSecret ameide/a`\n"
        '  - `spec.data[A].remoteRef.key`: `"plausible/a"` → `"plausible/z"`\n'
    )


def vault_policy(text: str) -> dict[str, Any]:
    resource = {
        "custom": True,
        "protect": False,
        "provider": "",
        "type": "vault:index/policy:Policy",
        "name": "ameide-vault-read",
    }
    return {"resources": [{**resource, "inputs": {"name": "ameide-vault-read", "policy": text}}]}


def test_diff_when_vault_policy_changes_then_called_out_with_changed_lines_only() -> None:
    before = 'path "secret/data/a/*" {\n  capabilities = ["read"]\n}\n'
    after = before + 'path "secret/data/b/*" {\n  capabilities = ["read"]\n}\n'
    result = diff.diff("staging", vault_policy(before), vault_policy(after))
    assert result.callouts == ["vault:Policy ameide-vault-read: Vault access changes (what ESO may read, or how it logs in)"]
    assert diff.render_text([result]).splitlines()[3:] == [
        "      policy:",
        '        +path "secret/data/b/*" {',
        '        +  capabilities = ["read"]',
        "        +}",
    ]
