"""The reviewer's diff between two previews: objects and changed fields, risky changes called out."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ameide_secrets.offline import diff

from helpers import STACKS


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
        "> **`ExternalSecret ameide/a: NO LONGER PROTECTED: pulumi may delete it`**\n\n"
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


# A CommonMark parser with GitHub's table and strikethrough extensions: what the comment's markup would be.
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = [
    "`",
    "a``b",
    "<!--",
    "-->",
    "<img src=x onerror=alert(1)>",
    "&lt;b&gt;",
    "@org/team",
    "**bold**",
    "_em_ ~~gone~~",
    "a|b",
    "x\n# heading",
    "x\r\n> quote",
    "[x](http://evil)",
    "![i](http://evil/i.png)",
    "\\",
    "\u202eevil",  # right-to-left override: would reorder what the reviewer reads
]


def shown(value: str) -> str:
    """How the comment shows a value's invisible characters."""
    return value.replace("\r", "\\r").replace("\n", "\\n").replace("\u202e", "\\u202e")


def tokens(markdown: str) -> list[Token]:
    return [t for block in MARKDOWN.parse(markdown) for t in [block, *(block.children or [])]]


def carrying(value: str) -> diff.StackDiff:
    """A diff with `value` in every slot a team module or a stack file fills: the stack, object names,
    an annotation's key and value, a Vault key, a provider name (in a callout) and a policy's text."""
    before = preview(es(f"{value}1"), es("c"), protect=True)["resources"] + vault_policy("a\n")["resources"]
    after = preview(es(f"{value}2"), es("c", key=value, **{value: value}), provider=value)["resources"]
    after += vault_policy(f"a\n{value}\n")["resources"]
    return diff.diff(value, {"resources": before}, {"resources": after})


@pytest.mark.parametrize("value", [*HOSTILE, "", " ", "` a `", "``"])
def test_code_span_when_value_has_markup_or_backticks_then_one_span_holding_it_exactly(value: str) -> None:
    [span] = MARKDOWN.parseInline(diff._code(value))[0].children or []
    assert (span.type, span.content) == ("code_inline", shown(value) or " ")


@pytest.mark.parametrize("value", HOSTILE)
def test_render_markdown_when_values_hostile_then_they_add_no_markup_and_show_as_code(value: str) -> None:
    hostile = tokens(diff.render_markdown([carrying(value)]))
    # The same value with every mark turned into a letter (line breaks kept: they decide the layout).
    plain = tokens(diff.render_markdown([carrying(re.sub(r"[^\w\n]", "x", value))]))
    # No heading, list, quote, HTML, link, image, emphasis or table of the value's own...
    assert [(t.type, t.tag, t.level) for t in hostile] == [(t.type, t.tag, t.level) for t in plain]
    # ...and outside code only our own words (GitHub links a mention only there).
    assert [t.content for t in hostile if t.type == "text"] == [t.content for t in plain if t.type == "text"]
    code = [t.content for t in hostile if t.type in {"code_inline", "fence"}]
    assert {
        shown(value),
        f"ExternalSecret ameide/{shown(value)}1",
        f"ExternalSecret ameide/{shown(value)}2",
        f"metadata.annotations.{shown(value)}",
        json.dumps(value),
        "".join(f"+{shown(line)}\n" for line in value.splitlines()),
    } <= set(code)
    assert any(f"provider kubernetes -> {shown(value)}:" in c for c in code)


def changes(stack: str, count: int) -> diff.StackDiff:
    """`count` changed objects, each with a one-line field and a multi-line one (a code block)."""
    fields = [diff.FieldChange("spec.data[A].remoteRef.key", "a", "b"), diff.FieldChange("policy", "a\n", "a\nb\nc\n")]
    return diff.StackDiff(stack, changed={("ExternalSecret", "ameide", f"es-{i}"): fields for i in range(count)})


def test_render_markdown_when_longer_than_a_comment_then_cut_at_a_line_with_a_note_on_what_is_left_out() -> None:
    local, staging, production = changes("local", 10), changes("staging", 2000), changes("production", 10)
    whole = diff.render_markdown([local, staging, production], limit=10**9)
    cut = diff.render_markdown([local, staging, production])
    assert len(cut.encode()) <= diff.MARKDOWN_LIMIT < len(whole.encode())
    kept, note = cut.rstrip("\n").rsplit("\n\n", 1)
    assert whole.startswith(f"{kept}\n")
    omitted = whole.count("\n") - kept.count("\n") - 1
    assert note == (
        f"**Cut short to fit a GitHub comment: {omitted} of {whole.count(chr(10))} lines are not shown.** "
        "Not shown in full: `staging` (0 added, 0 removed, 2000 changed), `production` (0 added, 0 removed, 10 changed). "
        "The whole diff is in the log of this run's `offline diff` job (`make diff` prints it too)."
    )


@pytest.mark.parametrize("limit", range(1500, 2500, 23))
def test_render_markdown_when_cut_anywhere_then_no_code_block_left_open_and_the_note_shows(limit: int) -> None:
    cut = diff.render_markdown([changes(stack, 20) for stack in STACKS], limit=limit)
    assert len(cut.encode()) <= limit
    *_, opening, inline, closing = MARKDOWN.parse(cut)
    assert (opening.type, opening.level, closing.type) == ("paragraph_open", 0, "paragraph_close")
    assert inline.content.startswith("**Cut short to fit a GitHub comment:")
