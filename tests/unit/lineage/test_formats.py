"""lineage/formats.py: each format carries the report; names from the cluster add no markup to the markdown,
leave no Mermaid or dot label, and never close the Mermaid fence."""

from __future__ import annotations

import json
import re

import pytest
from markdown_it import MarkdownIt

from ameide_secrets.lineage import formats
from ameide_secrets.lineage.chain import Lineage, Provider, resolve
from ameide_secrets.lineage.consumers import Consumer, Consumption

NS = "ameide"
MARKDOWN = MarkdownIt("commonmark").enable(["table"])
HOSTILE = [
    "`",
    "```",
    "a|b",
    "<img src=x>",
    '"',
    "x\n# heading",
    "[x](http://evil)",
    "]\n  n0 --> n1",
    "\u202eevil",
    "#quot;",
    "\\",
]


def report(name: str) -> Lineage:
    """A lineage with `name` in every slot the cluster fills: container, workload, env var, an undeclared Secret's name."""
    provider = Provider(namespace=NS, secret="app", module="workloads/core/app.py", workload="app", team="core",
                        external_secret="app", data={"K": ("app/k", "value"), "UNUSED": ("app/u", "value")})  # fmt: skip

    def consumption(secret: str, key: str | None, via: str) -> Consumption:
        consumer = Consumer(kind="Deployment", namespace=NS, name=f"w{name}", container=f"c{name}", via=via, field="spec.x")
        return Consumption(consumer=consumer, secret=secret, key=key, env=f"E{name}")

    consumed = [
        consumption("app", "K", "env"),
        consumption("app", f"missing{name}", "env"),
        consumption(f"s{name}", None, "envFrom"),
    ]
    return resolve("staging", [NS], [provider], consumed, {(NS, "app"): frozenset({"K", "UNUSED"})})


def test_render_when_json_then_the_model_dumped_and_read_back_equal() -> None:
    lineage = report("x")
    assert Lineage.model_validate(json.loads(formats.render(lineage, "json"))) == lineage


def test_render_when_text_then_one_section_per_list_with_its_count() -> None:
    shown = formats.render(report("x"), "text")
    assert (
        "edges (1):\n  app/k#value -> ExternalSecret app -> Secret ameide/app[K] -> Deployment ameide/wx (container cx) via env as $Ex\n"
        in shown
    )
    assert "unused keys (1):" in shown
    assert "broken references (2):" in shown
    assert "undeclared Secrets (1):\n  Secret ameide/sx (does not exist):" in shown


def structure(markdown: str) -> list[tuple[str, str, int]]:
    return [(t.type, t.tag, t.level) for block in MARKDOWN.parse(markdown) for t in [block, *(block.children or [])]]


@pytest.mark.parametrize("name", HOSTILE)
def test_markdown_when_names_hostile_then_same_structure_as_plain_names_and_one_mermaid_fence(name: str) -> None:
    hostile, plain = formats.render(report(name), "markdown"), formats.render(report(re.sub(r"[^\w\n]", "x", name)), "markdown")
    assert structure(hostile) == structure(plain)
    [fence] = [t for t in MARKDOWN.parse(hostile) if t.type == "fence"]
    assert fence.info == "mermaid"
    assert fence.content == formats.mermaid(report(name)) + "\n"


@pytest.mark.parametrize("name", HOSTILE)
def test_graphs_when_names_hostile_then_every_label_one_quoted_string(name: str) -> None:
    mermaid = formats.mermaid(report(name)).splitlines()
    node = re.compile(r'  n\d+\["[^"`|\n]*"\]')
    link = re.compile(r'  n\d+ (-->|-\.->)(\|"[^"`|]*"\|)? n\d+')
    assert mermaid[0] == "graph LR"
    assert all(
        node.fullmatch(line) or link.fullmatch(line) or line.startswith(("  classDef ", "  class ")) for line in mermaid[1:]
    )
    dot = formats.render(report(name), "dot").splitlines()
    quoted = r'"(?:[^"\\\n]|\\.)*"'
    statement = re.compile(
        rf"  n\d+ \[label={quoted}(, color=red, fontcolor=red)?\];|  n\d+ -> n\d+ \[label={quoted}(, style=dashed)?\];"
    )
    assert all(statement.fullmatch(line) for line in dot[3:-1]), dot
    assert dot[-1] == "}"


def test_graphs_when_too_many_links_then_unused_keys_left_out_and_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "GRAPH_LINKS", 2)
    shown = formats.render(report("x"), "markdown")
    assert "(The graph leaves the unused keys out: more than 2 links. The table lists them.)" in shown
    assert "-.->" not in shown
    assert "| `ameide/app[UNUSED]` |" in shown
