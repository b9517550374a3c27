"""Pure: a Lineage as text, JSON, markdown (tables and a Mermaid graph, which GitHub renders) or Graphviz dot.

Every name from the cluster enters the markdown as an inline code span (offline/diff.py's `_code`) and the
graphs as an escaped quoted label: a container or variable name cannot add markup to a PR comment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ameide_secrets.findings import count
from ameide_secrets.lineage.chain import BrokenRef, Edge, Lineage
from ameide_secrets.lineage.consumers import Consumer
from ameide_secrets.offline.diff import _code, _visible

FORMATS = ("text", "json", "markdown", "dot")
GRAPH_LINKS = 400
"""Beyond this many links the graphs leave the unused keys out (the tables list them): Mermaid, as GitHub
renders it, draws 500 at most."""


def consumer_name(c: Consumer) -> str:
    """`Deployment ameide/web (container app)`; the pod itself when no container is named."""
    return f"{c.kind} {c.namespace}/{c.name} " + (f"(container {c.container})" if c.container else "(pod)")


def _vault(vault_key: str | None, prop: str | None) -> str:
    if vault_key is None:
        return "(not from Vault)"
    return f"{vault_key}#{prop}" if prop is not None else f"{vault_key} (whole secret)"


def _edge_line(e: Edge) -> str:
    into = f" as ${e.env}" if e.env else (f" as file {e.path}" if e.path else "")
    optional = " (optional)" if e.optional else ""
    es = f" -> ExternalSecret {e.external_secret}" if e.external_secret else " -> existing"
    return (
        f"{_vault(e.vault_key, e.property)}{es} -> Secret {e.namespace}/{e.secret}[{e.secret_key}] -> "
        f"{consumer_name(e.consumer)} via {e.consumer.via}{into}{optional}"
    )


def _broken_line(b: BrokenRef) -> str:
    what = f"key {b.key!r} of Secret {b.secret}" if b.key is not None else f"Secret {b.secret}"
    return f"{consumer_name(b.consumer)}: {b.consumer.field}: reads {what}: {b.problem}"


def text(lineage: Lineage) -> str:
    lines = [f"lineage of stack {lineage.stack} (namespaces {', '.join(lineage.namespaces) or 'none'})"]
    if not lineage.secret_keys_read:
        lines.append("note: Secrets could not be listed: data_from and existing Secrets' keys are unknown and not judged")

    def section(title: str, items: Iterable[str]) -> None:
        shown = list(items)
        lines.append(f"{title} ({len(shown)}):")
        lines.extend(f"  {item}" for item in shown)

    section("edges", map(_edge_line, lineage.edges))
    section(
        "unused keys",
        (
            f"Secret {u.namespace}/{u.secret}[{u.secret_key}] from {_vault(u.vault_key, u.property)} "
            f"(ExternalSecret {u.external_secret}, {u.module}): no container reads it"
            for u in lineage.unused_keys
        ),
    )
    section("broken references", map(_broken_line, lineage.broken_refs))
    section("broken optional references", map(_broken_line, lineage.optional_broken_refs))
    section(
        "undeclared Secrets",
        (
            f"Secret {u.namespace}/{u.secret}"
            + {True: "", False: " (does not exist)", None: ""}[u.exists]
            + f": read by {', '.join(map(consumer_name, u.consumers))}; no module of the stack declares it"
            for u in lineage.undeclared
        ),
    )
    return "\n".join(lines) + "\n"


def as_json(lineage: Lineage) -> str:
    return json.dumps(lineage.model_dump(mode="json"), indent=2) + "\n"


def _label(text: str, escape: Callable[[str], str]) -> str:
    """One line, its invisible characters as escapes (diff._visible), then the graph language's own escapes."""
    return escape(_visible(text))


Link = tuple[str, str, str, bool]
"""From, to, label, and whether it is an unused key's (drawn dashed)."""


def _graph_nodes(lineage: Lineage) -> tuple[dict[str, str], list[Link], bool]:
    """Node id -> label, and links: Vault key -> Secret key -> consumer, a broken reference to a red node; whether the
    unused keys are drawn (not beyond GRAPH_LINKS)."""
    nodes: dict[str, tuple[str, str]] = {}
    links: dict[Link, None] = {}

    def node(kind: str, label: str) -> str:
        return nodes.setdefault(f"{kind}:{label}", (f"n{len(nodes)}", label))[0]

    for e in lineage.edges:
        secret_key = node("key", f"{e.namespace}/{e.secret}[{e.secret_key}]")
        if e.vault_key is not None:
            links[(node("vault", _vault(e.vault_key, e.property)), secret_key, e.external_secret or "", False)] = None
        links[(secret_key, node("consumer", consumer_name(e.consumer)), e.consumer.via, False)] = None
    for b in [*lineage.broken_refs, *lineage.optional_broken_refs]:
        missing = node("missing", f"missing: {b.consumer.namespace}/{b.secret}" + (f"[{b.key}]" if b.key is not None else ""))
        links[(node("consumer", consumer_name(b.consumer)), missing, "optional" if b.optional else "broken", False)] = None
    for stray in lineage.undeclared:
        secret = node("undeclared", f"undeclared: {stray.namespace}/{stray.secret}")
        for c in stray.consumers:
            links[(secret, node("consumer", consumer_name(c)), c.via, False)] = None
    drawn = len(links) + len(lineage.unused_keys) <= GRAPH_LINKS
    for u in lineage.unused_keys if drawn else []:
        secret_key = node("key", f"{u.namespace}/{u.secret}[{u.secret_key}]")
        links[(node("vault", _vault(u.vault_key, u.property)), secret_key, "unused", True)] = None
    return dict(nodes.values()), [*links], drawn


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label, entity codes stand for the characters Mermaid would read as syntax.
    codes = {'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;", "`": "#96;", "|": "#124;", "&": "#38;"}
    return "".join(codes.get(c, c) for c in text)


def mermaid(lineage: Lineage) -> str:
    labels, links, _ = _graph_nodes(lineage)
    lines = ["graph LR"]
    lines += [f'  {node}["{_label(label, _mermaid_text)}"]' for node, label in labels.items()]
    for a, b, label, unused in links:
        arrow = "-.->" if unused else "-->"
        lines.append(f'  {a} {arrow}|"{_label(label, _mermaid_text)}"| {b}' if label else f"  {a} {arrow} {b}")
    missing = [node for node, label in labels.items() if label.startswith("missing: ")]
    if missing:
        lines.append("  classDef missing stroke:#d00,color:#d00")
        lines.append(f"  class {','.join(missing)} missing")
    return "\n".join(lines)


def _cell(value: str) -> str:
    """`value` as a code span inside a table cell: a table splits cells at any unescaped `|`, even in code."""
    return _code(value).replace("|", "\\|")


def markdown(lineage: Lineage) -> str:
    lines = [f"### ameide-secrets: who reads what in stack {_code(lineage.stack)}", ""]
    if not lineage.secret_keys_read:
        lines += ["> Secrets could not be listed: `data_from` and existing Secrets' keys are unknown and not judged.", ""]
    counts = (
        f"{count(lineage.edges, 'edge')}, {count(lineage.unused_keys, 'unused key')}, "
        f"{count(lineage.broken_refs, 'broken reference')} ({len(lineage.optional_broken_refs)} optional), "
        f"{count(lineage.undeclared, 'undeclared Secret')}"
    )
    lines += [counts, "", "```mermaid", mermaid(lineage), "```", ""]
    if not _graph_nodes(lineage)[2]:
        lines += [f"(The graph leaves the unused keys out: more than {GRAPH_LINKS} links. The table lists them.)", ""]
    if lineage.broken_refs or lineage.optional_broken_refs:
        lines += [
            "#### Broken references",
            "",
            "| consumer | field | Secret | key | optional | problem |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_cell(consumer_name(b.consumer))} | {_cell(b.consumer.field)} | {_cell(b.secret)} | "
            f"{_cell(b.key) if b.key is not None else '(all)'} | {'yes' if b.optional else 'no'} | {_cell(b.problem)} |"
            for b in [*lineage.broken_refs, *lineage.optional_broken_refs]
        ]
        lines.append("")
    if lineage.edges:
        lines += [
            "#### Edges",
            "",
            "| Vault key | ExternalSecret | Secret key | consumer | via |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {_cell(_vault(e.vault_key, e.property))} | {_cell(e.external_secret or '(existing)')} | "
            f"{_cell(f'{e.namespace}/{e.secret}[{e.secret_key}]')} | {_cell(consumer_name(e.consumer))} | {_cell(e.consumer.via)} |"
            for e in lineage.edges
        ]
        lines.append("")
    if lineage.unused_keys:
        lines += ["#### Unused keys", "", "| Secret key | Vault key | ExternalSecret | module |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {_cell(f'{u.namespace}/{u.secret}[{u.secret_key}]')} | {_cell(_vault(u.vault_key, u.property))} | "
            f"{_cell(u.external_secret)} | {_cell(u.module)} |"
            for u in lineage.unused_keys
        ]
        lines.append("")
    if lineage.undeclared:
        lines += ["#### Undeclared Secrets", "", "| Secret | exists | consumers |", "| --- | --- | --- |"]
        lines += [
            f"| {_cell(f'{u.namespace}/{u.secret}')} | {({True: 'yes', False: 'no', None: 'unknown'})[u.exists]} | "
            f"{', '.join(_cell(consumer_name(c)) for c in u.consumers)} |"
            for u in lineage.undeclared
        ]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def dot(lineage: Lineage) -> str:
    labels, links, _ = _graph_nodes(lineage)
    lines = [f'digraph "{_dot_text(f"lineage {lineage.stack}")}" {{', "  rankdir=LR;", "  node [shape=box];"]
    for node, label in labels.items():
        style = ", color=red, fontcolor=red" if label.startswith("missing: ") else ""
        lines.append(f'  {node} [label="{_label(label, _dot_text)}"{style}];')
    lines += [
        f'  {a} -> {b} [label="{_label(label, _dot_text)}"' + (", style=dashed" if unused else "") + "];"
        for a, b, label, unused in links
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(lineage: Lineage, fmt: str) -> str:
    return {"text": text, "json": as_json, "markdown": markdown, "dot": dot}[fmt](lineage)
