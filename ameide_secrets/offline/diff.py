"""What a PR changes in a stack: Kubernetes objects added, removed and changed (changed fields only).

Works on two offline previews in `--format json` (see tools/preview.py), so it sees resource
options too: protection and provider changes are called out beside the object changes, because
they decide whether a live Secret can be lost.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ameide_secrets.lineage.blast import Impact
from ameide_secrets.vocabulary import ANNOTATION_DELETION_PROPAGATION, STORE_KIND

Key = tuple[str, str, str]  # kind, namespace, name

# GitHub refuses a comment over 65536 characters. The markdown stays within this many UTF-8 bytes (never
# fewer than characters), leaving room for the marker the comment job puts first; pr-comment.yml checks it.
MARKDOWN_LIMIT = 65000
# A changed value longer than this many characters, or with a line break, is shown as a line diff with
# this many lines of context, not twice whole (a one-prefix change rewrites a multi-KB CEL literal).
LONG_VALUE = 200
DIFF_CONTEXT = 2


@dataclass(frozen=True)
class FieldChange:
    """One leaf that differs; `None` stands for absent."""

    path: str
    before: Any
    after: Any


@dataclass
class StackDiff:
    """The reviewer's view of one stack's change."""

    stack: str
    added: list[Key] = field(default_factory=list)
    removed: list[Key] = field(default_factory=list)
    changed: dict[Key, list[FieldChange]] = field(default_factory=dict)
    callouts: list[str] = field(default_factory=list)
    impacts: list[Impact] | None = None
    """Secret keys the change removes or repoints, with their readers (lineage/blast.py); None: no lineage given."""

    @property
    def breaking(self) -> list[Impact]:
        return [i for i in self.impacts or [] if i.breaking]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.callouts)

    @property
    def summary(self) -> str:
        """`no changes`, or how many objects were added, removed and changed."""
        return (
            "no changes" if self.empty else f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed"
        )


def _key(resource: dict[str, Any]) -> Key | None:
    """Kubernetes objects by kind/namespace/name; Vault resources (policy, role) by type and name."""
    inputs = resource["inputs"]
    if not resource["custom"]:
        return None
    if resource["type"].startswith("kubernetes:") and "kind" in inputs:
        meta = inputs.get("metadata", {})
        return inputs["kind"], meta.get("namespace", ""), meta["name"]
    if resource["type"].startswith("vault:"):
        return f"vault:{resource['type'].rsplit(':', 1)[-1]}", "", resource["name"]
    return None


def _objects(preview: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    """The objects of a JSON preview a reviewer judges, with the options that matter for review."""
    objects = {}
    for r in preview["resources"]:
        key = _key(r)
        if key is None:
            continue
        inputs = r["inputs"]
        objects[key] = {
            "object": inputs,
            "protect": r["protect"],
            # A provider reference is "<provider urn>::<id>"; the urn ends in the provider's name.
            "provider": r["provider"].split("::")[-2] if r["provider"] else "(default)",
        }
    return objects


def _names(value: list[Any], field: str) -> list[Any] | None:
    """Each entry's `field`, when every entry is an object with a distinct one."""
    names = [v.get(field) if isinstance(v, dict) else None for v in value]
    return names if value and None not in names and len(set(map(str, names))) == len(names) else None


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in value:
            out.update(_leaves(value[key], f"{path}.{key}" if path else str(key)))
        return out or {path: {}}
    if isinstance(value, list):
        # Lists of named entries diff by name, so one entry's change is that entry's fields. ESO's data[]
        # (by secretKey) is unordered, so reordering is not noise; for other names (an admission policy's
        # variables, which may refer only to earlier ones) the order is a leaf of its own.
        for field, ordered in (("secretKey", False), ("name", True)):
            names = _names(value, field)
            if names is not None:
                out = {f"{path}[*].{field}": names} if ordered else {}
                for name, item in zip(names, value, strict=True):
                    out.update(_leaves(item, f"{path}[{name}]"))
                return out
        return {path: value}
    return {path: value}


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Changed leaves between two objects, by dotted path, sorted."""
    old, new = _leaves(before), _leaves(after)
    return [FieldChange(p, old.get(p), new.get(p)) for p in sorted(old.keys() | new.keys()) if old.get(p) != new.get(p)]


def _name(key: Key) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def diff(stack: str, before: dict[str, Any], after: dict[str, Any]) -> StackDiff:
    """Compare two JSON previews of `stack` (before = base revision, after = this change)."""
    old, new = _objects(before), _objects(after)
    result = StackDiff(stack)
    result.added = sorted(new.keys() - old.keys())
    result.removed = sorted(old.keys() - new.keys())
    for key in sorted(old.keys() & new.keys()):
        changes = field_changes(old[key]["object"], new[key]["object"])
        if changes:
            result.changed[key] = changes
        if old[key]["protect"] != new[key]["protect"]:
            state = "now protected" if new[key]["protect"] else "NO LONGER PROTECTED: pulumi may delete it"
            result.callouts.append(f"{_name(key)}: {state}")
        if old[key]["provider"] != new[key]["provider"]:
            result.callouts.append(
                f"{_name(key)}: provider {old[key]['provider']} -> {new[key]['provider']}: "
                "Pulumi replaces it (delete, then create); see docs/migration.md step 6"
            )
    for key in result.removed:
        if key[0] == "ExternalSecret":
            orphaned = old[key]["object"]["metadata"].get("annotations", {}).get(ANNOTATION_DELETION_PROPAGATION) == "orphan"
            fate = "its Secret stays (orphaned)" if orphaned else "its Secret is garbage-collected with it"
            result.callouts.append(f"{_name(key)} is deleted: {fate}")
    for key in result.added + result.removed + list(result.changed):
        if key[0] in {STORE_KIND, "SecretStore"}:
            result.callouts.append(f"{_name(key)}: secret store change, every ExternalSecret reading through it is affected")
        elif key[0].startswith("vault:"):
            result.callouts.append(f"{_name(key)}: Vault access changes (what ESO may read, or how it logs in)")
    for key, changes in result.changed.items():
        if any(c.path.startswith("spec.secretStoreRef") for c in changes):
            result.callouts.append(f"{_name(key)}: reads from another store")
    return result


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=True)


def _flat(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) < len(pairs):
        raise ValueError("a key twice")  # pretty-printing would show only the last
    return dict(pairs)


def _json(text: str) -> Any:
    """`text` parsed when it is a JSON list or object (a CEL map literal) with no key twice, else None."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys) if text.lstrip()[:1] in {"{", "["} else None
    except ValueError:
        return None


def _pretty(value: Any) -> list[str]:
    return [] if value is None else json.dumps(value, indent=2, sort_keys=True).splitlines()


def _unified(before: list[str], after: list[str]) -> list[str]:
    """The hunks of a unified diff with a few lines of context, without its two file-name lines."""
    return list(itertools.islice(difflib.unified_diff(before, after, lineterm="", n=DIFF_CONTEXT), 2, None))


def _text_diff(change: FieldChange) -> list[str] | None:
    """A long or multi-line value (a Vault policy, a CEL map literal, a list of validations) as a line
    diff of that field, or None: a short one reads best as `old -> new`."""
    sides = (change.before, change.after)
    if not any(len(text) > LONG_VALUE or "\n" in text for text in map(_flat, sides)):
        return None
    # Lists, objects and JSON literals pretty-printed, so a one-key change is one line, when both sides are;
    # a change of layout only shows in the text as it is.
    parsed = [_json(side) if isinstance(side, str) else side for side in sides]
    structured = all(p is not None or side is None for side, p in zip(sides, parsed, strict=True))
    pretty = _unified(*map(_pretty, parsed)) if structured else []
    return pretty or _unified(*(_flat(side).splitlines() for side in sides)) or None


def _reader(impact: Impact) -> list[str]:
    return [
        f"{r.consumer.kind} {r.consumer.namespace}/{r.consumer.name} "
        + (f"(container {r.consumer.container})" if r.consumer.container else "(pod)")
        + f" via {r.consumer.via}"
        + (" (optional)" if r.optional else "")
        for r in impact.readers
    ]


def _impact_line(impact: Impact) -> str:
    mark = "BREAKING " if impact.breaking else ""
    read = f"read by {', '.join(_reader(impact))}" if impact.readers else "no container reads it"
    return (
        f"{mark}{impact.change} Secret {impact.namespace}/{impact.secret}[{impact.secret_key}] "
        f"(ExternalSecret {impact.external_secret}): {impact.detail}; {read}"
    )


def breaking_note(diffs: list[StackDiff], allowed: bool) -> str | None:
    """What the diff says about keys it removes that containers still read, or None."""
    count = sum(len(d.breaking) for d in diffs)
    if not count:
        return None
    what = f"{count} removed Secret key{'s' if count != 1 else ''} still read by a container"
    if allowed:
        return f"Breaking: {what}. Allowed with --allow-breaking (a reviewer labelled the PR)."
    return f"Breaking: {what}. The diff fails unless run with --allow-breaking (a reviewer labels the PR)."


def render_text(diffs: list[StackDiff], allow_breaking: bool = False) -> str:
    lines = []
    if note := breaking_note(diffs, allow_breaking):
        lines.append(f"!! {note}")
    for d in diffs:
        lines.append(f"== stack {d.stack}: {d.summary}")
        lines += [f"  ! {c}" for c in d.callouts]
        lines += [f"  ^ {_impact_line(i)}" for i in d.impacts or []]
        lines += [f"  + {_name(k)}" for k in d.added]
        lines += [f"  - {_name(k)}" for k in d.removed]
        for key, changes in d.changed.items():
            lines.append(f"  ~ {_name(key)}")
            for c in changes:
                text = _text_diff(c)
                if text is None:
                    lines.append(f"      {c.path}: {_value(c.before)} -> {_value(c.after)}")
                else:
                    lines += [f"      {c.path}:", *(f"        {line}" for line in text)]
    return "\n".join(lines)


_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}  # Unicode categories: control, format (bidi overrides), line and paragraph separators


def _visible(text: str) -> str:
    """`text` with its invisible characters as escapes (`\\n`, `\\u202e`): no character of a value starts a
    line of markdown or reorders what the reviewer reads."""
    return "".join(c.encode("unicode_escape").decode() if unicodedata.category(c) in _INVISIBLE else c for c in text)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)


def _code(value: str) -> str:
    """`value` as one inline code span, the one way a value enters the markdown: inside it nothing is
    markup (no HTML, link, emphasis, mention or table pipe), and the fence is longer than any backtick
    run in the value, so none closes it. Padded with a space each side (CommonMark strips one) when the
    value starts or ends with a backtick or a space; spaces only are kept as they are, and empty is one."""
    text = _visible(value)
    fence = "`" * (_longest_backtick_run(text) + 1)
    if not text.strip(" "):
        text = text or " "  # an empty span would be no span: two backticks, opening what comes later
    elif text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    return f"{fence}{text}{fence}"


def _fenced(lines: list[str], indent: str) -> str:
    """The changed lines of a text field as one ```diff block, its fence longer than any backtick run in them."""
    body = [_visible(line) for line in lines]
    fence = "`" * max(3, 1 + max(map(_longest_backtick_run, body), default=0))
    return "\n".join([f"{indent}{fence}diff", *(f"{indent}{line}" for line in body), f"{indent}{fence}"])


def _section(d: StackDiff) -> list[str]:
    """One stack's part of the comment, one entry per line (a code block is one entry: a cut never opens it)."""
    lines = [f"#### {_code(d.stack)}: {d.summary}", ""]
    lines += [f"> **{_code(c)}**" for c in d.callouts]
    if d.callouts:
        lines.append("")
    if d.impacts:
        lines += ["Blast radius (from the stack's lineage):", ""]
        for i in d.impacts:
            mark = "💥 **breaking**" if i.breaking else ("➖ removed" if i.change == "removed" else "✏️ changed")
            read = ", ".join(_code(r) for r in _reader(i)) if i.readers else "no container reads it"
            lines.append(
                f"- {mark} {_code(f'{i.namespace}/{i.secret}[{i.secret_key}]')} "
                f"({_code(f'ExternalSecret {i.external_secret}')}): {_code(i.detail)}; read by: {read}"
            )
        lines.append("")
    lines += [f"- ➕ {_code(_name(k))}" for k in d.added]
    lines += [f"- ➖ {_code(_name(k))}" for k in d.removed]
    for key, changes in d.changed.items():
        lines.append(f"- ✏️ {_code(_name(key))}")
        for c in changes:
            text = _text_diff(c)
            if text is None:
                lines.append(f"  - {_code(c.path)}: {_code(_value(c.before))} → {_code(_value(c.after))}")
            else:
                lines.append(f"  - {_code(c.path)}:\n{_fenced(text, '    ')}")
    lines.append("")
    return lines


def _size(text: str) -> int:
    return len(text.encode())


def _joined(lines: list[str]) -> str:
    return "\n".join(lines).rstrip() + "\n"


def _cut_note(omitted: int, total: int, cut: list[StackDiff]) -> str:
    stacks = ", ".join(f"{_code(d.stack)} ({d.summary})" for d in cut)
    return (
        f"**Cut short to fit a GitHub comment: {omitted} of {total} lines are not shown.** "
        f"Not shown in full: {stacks}. The whole diff is in the log of this run's `offline diff` job "
        "(`make diff` prints it too)."
    )


def render_markdown(diffs: list[StackDiff], limit: int = MARKDOWN_LIMIT, allow_breaking: bool = False) -> str:
    """The PR comment. Longer than `limit` UTF-8 bytes, it ends at the last whole entry that fits, followed
    by a note saying how many lines and which stacks are not shown, and where the whole diff is. A breaking
    change is said first, never cut."""
    header = ["### ameide-secrets: what this PR changes", ""]
    if note := breaking_note(diffs, allow_breaking):
        header += [f"> **{note}**".replace("--allow-breaking", "`--allow-breaking`"), ""]
    sections = [_section(d) for d in diffs]
    full = _joined(header + [line for lines in sections for line in lines])
    if _size(full) <= limit:
        return full
    total = full.count("\n")
    # Room for the longest note there can be (every line and every stack left out), and the blank line before it.
    budget = limit - _size(_cut_note(total, total, diffs)) - 2 - sum(_size(line) + 1 for line in header)
    shown, cut = list(header), []
    for d, lines in zip(diffs, sections, strict=True):
        for i, line in enumerate(lines):
            budget -= _size(line) + 1
            if budget < 0:
                if any(lines[i:]):  # only blank lines left: the stack is shown in full
                    cut.append(d)
                break
            shown.append(line)
    kept = _joined(shown)
    omitted = total - kept.count("\n")
    return f"{kept}\n{_cut_note(omitted, total, cut)}\n"
