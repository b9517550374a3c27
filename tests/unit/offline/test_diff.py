"""The reviewer's diff between two previews: objects and changed fields, risky changes called out."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ameide_secrets.lineage.blast import Impact, Reader
from ameide_secrets.lineage.consumers import Consumer
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


def store(kind: str, namespace: str = "") -> dict[str, Any]:
    metadata = {"name": "team-vault", **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": metadata, "spec": {"provider": {}}}


@pytest.mark.parametrize(
    ("kind", "namespace", "name"),
    [("SecretStore", "ameide", "SecretStore ameide/team-vault"), ("ClusterSecretStore", "", "ClusterSecretStore team-vault")],
)
@pytest.mark.parametrize("change", ["added", "removed"])
def test_diff_when_a_pr_adds_or_removes_any_secret_store_then_called_out(
    kind: str, namespace: str, name: str, change: str
) -> None:
    """A namespaced SecretStore is a store too: a PR adding one opens a second way to Vault beside the platform's."""
    with_store, without = preview(es("a"), store(kind, namespace)), preview(es("a"))
    result = diff.diff("staging", without, with_store) if change == "added" else diff.diff("staging", with_store, without)
    assert result.callouts == [f"{name}: secret store change, every ExternalSecret reading through it is affected"]


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
        "        @@ -2,2 +2,5 @@",
        '           capabilities = ["read"]',
        "         }",
        '        +path "secret/data/b/*" {',
        '        +  capabilities = ["read"]',
        "        +}",
    ]


def admission_policy(
    prefixes: list[str], indent: int | None, order: tuple[str, ...] = ("declared", "admitted")
) -> dict[str, Any]:
    """A policy whose `declared` variable is a CEL map literal of `prefixes` (multi-KB, as the real one)."""
    literal = json.dumps({"ameide": {p: f"workloads/t/{p.strip('/')}.py" for p in prefixes}}, indent=indent, sort_keys=True)
    expressions = {"declared": literal, "admitted": "namespaceObject.metadata.name in variables.declared"}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "ameide-vault-external-secrets"},
        "spec": {"variables": [{"name": name, "expression": expressions[name]} for name in order]},
    }


PREFIXES = [f"workload-{i:03}/" for i in range(100)]


@pytest.mark.parametrize("indent", [2, None], ids=["pretty", "compact"])
@pytest.mark.parametrize(
    ("before", "after", "line"),
    [
        (PREFIXES, sorted([*PREFIXES, "newsletter/"]), '+    "newsletter/": "workloads/t/newsletter.py",'),
        (PREFIXES, PREFIXES[1:], '-    "workload-000/": "workloads/t/workload-000.py",'),
    ],
    ids=["added", "removed"],
)
def test_render_when_one_prefix_of_a_cel_literal_changes_then_a_few_lines_naming_it(
    before: list[str], after: list[str], line: str, indent: int | None
) -> None:
    result = diff.diff("staging", preview(admission_policy(before, indent)), preview(admission_policy(after, indent)))
    [changes] = result.changed.values()
    assert [c.path for c in changes] == ["spec.variables[declared].expression"]
    text = diff.render_text([result]).splitlines()
    assert len(changes[0].before) > 4000
    assert len(text) < 12
    assert f"        {line}" in text
    markdown = diff.render_markdown([result])
    [block] = [t.content for t in tokens(markdown) if t.type == "fence"]
    assert line in block.splitlines()
    assert len(block) < 400


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("x" * 300, "x" * 299 + "y"),  # long, one line, not JSON
        (None, "line 1\nline 2\n"),  # multi-line, added
        # A JSON literal with a key twice: compared as text, so pretty-printing does not hide `"a": 1` going.
        ('{"a": 1, "a": 2, "b": "' + "x" * 200 + '"}', '{"a": 2, "b": "' + "y" * 200 + '"}'),
        # JSON on one side only: both as text, so the other side's lines are not lost.
        ('{"b": "' + "x" * 200 + '"}', 'path "secret/data/plausible/*" {\n  capabilities = ["read"]\n}\n'),
    ],
    ids=["long", "added", "duplicate-key", "json-to-text"],
)
def test_render_text_when_value_long_or_multiline_then_line_diff(before: str | None, after: str) -> None:
    change = diff.FieldChange("policy", before, after)
    _, _, header, *lines = diff.render_text([diff.StackDiff("s", changed={("K", "", "n"): [change]})]).splitlines()
    assert (header, lines[0][:10]) == ("      policy:", "        @@")
    assert {f"        -{old}" for old in (before or "").splitlines()} | {f"        +{new}" for new in after.splitlines()} <= set(
        lines
    )


@pytest.mark.parametrize(
    ("render", "shown_as"),
    [
        (diff.render_text, '      spec.data[A].remoteRef.key: "plausible/a" -> "plausible/z"'),
        (diff.render_markdown, '  - `spec.data[A].remoteRef.key`: `"plausible/a"` → `"plausible/z"`'),
    ],
    ids=["text", "markdown"],
)
def test_render_when_value_short_then_old_and_new_on_one_line(render: Any, shown_as: str) -> None:
    result = diff.diff("staging", preview(es("a")), preview(es("a", key="plausible/z")))
    assert shown_as in render([result]).splitlines()


def test_diff_when_named_variables_reordered_then_the_order_is_the_change() -> None:
    before, after = admission_policy(PREFIXES, 2), admission_policy(PREFIXES, 2, order=("admitted", "declared"))
    [changes] = diff.diff("staging", preview(before), preview(after)).changed.values()
    assert changes == [diff.FieldChange("spec.variables[*].name", ["declared", "admitted"], ["admitted", "declared"])]


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


def long(value: str) -> str:
    """`value` made long enough to be shown as a line diff."""
    return value + "." * diff.LONG_VALUE


def added_lines(text: str) -> str:
    """How a fenced line diff ends when `text` is added (a line break shows as a new line)."""
    return "".join(f"+{shown(line)}\n" for line in text.splitlines())


def carrying(value: str) -> diff.StackDiff:
    """A diff with `value` in every slot a team module or a stack file fills: the stack, object names,
    an annotation's key and value (and a long value), a Vault key, a provider name (in a callout) and a
    policy's text."""
    before = preview(es(f"{value}1"), es("c"), protect=True)["resources"] + vault_policy("a\n")["resources"]
    annotations = {value: value, f"{value}-long": long(value)}
    after = preview(es(f"{value}2"), es("c", key=value, **annotations), provider=value)["resources"]
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
    } <= set(code)
    assert any(f"provider kubernetes -> {shown(value)}:" in c for c in code)
    # The Vault key and annotation value: inline as JSON or, with a line break, as a line diff; the policy's text.
    assert "\n" in value or json.dumps(value) in code
    assert any(c.endswith(f"\n{added_lines(value)}") for c in code)
    assert any(c.endswith(f"@@\n{added_lines(long(value))}") for c in code)  # the long annotation


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


def impact(breaking: bool, optional: bool = False) -> Impact:
    reader = Reader(
        consumer=Consumer(kind="Deployment", namespace="ameide", name="web", container="app", via="env", field="spec.x"),
        optional=optional,
    )
    return Impact(namespace="ameide", secret="app", secret_key="K1", external_secret="app", change="removed",
                  detail="no longer written (was app/a#x)", readers=[reader], breaking=breaking)  # fmt: skip


@pytest.mark.parametrize("allowed", [False, True])
def test_render_when_a_removed_key_is_still_read_then_said_first_with_its_readers(allowed: bool) -> None:
    stack = diff.StackDiff("staging", removed=[("ExternalSecret", "ameide", "app")], impacts=[impact(True)])
    verdict = (
        "Allowed with --allow-breaking (a reviewer labelled the PR)."
        if allowed
        else "The diff fails unless run with --allow-breaking (a reviewer labels the PR)."
    )
    text = diff.render_text([stack], allow_breaking=allowed).splitlines()
    assert text[:3] == [
        f"!! Breaking: 1 removed Secret key still read by a container. {verdict}",
        "== stack staging: 0 added, 1 removed, 0 changed",
        "  ^ BREAKING removed Secret ameide/app[K1] (ExternalSecret app): no longer written (was app/a#x); "
        "read by Deployment ameide/web (container app) via env",
    ]
    markdown = diff.render_markdown([stack], allow_breaking=allowed)
    assert markdown.startswith(
        f"### ameide-secrets: what this PR changes\n\n> **Breaking: 1 removed Secret key still read by a container. "
        f"{verdict.replace('--allow-breaking', '`--allow-breaking`')}**\n\n#### `staging`: 0 added, 1 removed, 0 changed\n\n"
        "Blast radius (from the stack's lineage):\n\n"
        "- 💥 **breaking** `ameide/app[K1]` (`ExternalSecret app`): `no longer written (was app/a#x)`; "
        "read by: `Deployment ameide/web (container app) via env`\n"
    )


def test_render_when_removed_key_read_only_optionally_then_listed_not_breaking() -> None:
    stack = diff.StackDiff("staging", impacts=[impact(False, optional=True)])
    assert diff.breaking_note([stack], allowed=False) is None
    assert "- ➖ removed `ameide/app[K1]`" in diff.render_markdown([stack])
    assert "via env (optional)" in diff.render_text([stack])
