"""lineage/blast.py: which keys a change removes or repoints, who reads them, and which removals break a container."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ameide_secrets.findings import InputError
from ameide_secrets.lineage import blast
from ameide_secrets.lineage.chain import Edge, Lineage, UnusedKey
from ameide_secrets.lineage.consumers import Consumer

NS = "ameide"


def es(
    name: str = "app",
    target: str | None = None,
    data: dict[str, str] | None = None,
    data_from: tuple[str, ...] = (),
    policy: str = "Owner",
) -> dict[str, Any]:
    """One ExternalSecret resource as a JSON preview lists it; data: Secret key -> `vault key#property`."""
    spec: dict[str, Any] = {"target": {"name": target or name, "creationPolicy": policy}}
    spec["data"] = [
        {"secretKey": key, "remoteRef": {"key": ref.split("#")[0], "property": ref.split("#")[1]}}
        for key, ref in (data or {}).items()
    ]
    spec["dataFrom"] = [{"extract": {"key": key}} for key in data_from]
    inputs = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"namespace": NS, "name": name},
        "spec": spec,
    }
    return {"type": "kubernetes:external-secrets.io/v1:ExternalSecret", "custom": True, "inputs": inputs}


def preview(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resources": list(resources)}


def consumer(name: str = "web", via: str = "env") -> Consumer:
    return Consumer(kind="Deployment", namespace=NS, name=name, container="app", via=via, field="spec.x")


def edge(
    secret: str, key: str, optional: bool = False, source: str = "data", vault_key: str = "app/a", reader: str = "web"
) -> Edge:
    return Edge(vault_key=vault_key, property="x", external_secret="app", namespace=NS, secret=secret, secret_key=key,
                source=source, module="workloads/core/app.py", team="core", consumer=consumer(reader), optional=optional)  # fmt: skip


def lineage(*edges: Edge, unused: tuple[UnusedKey, ...] = ()) -> Lineage:
    return Lineage(stack="staging", namespaces=[NS], secret_keys_read=True, edges=list(edges), unused_keys=list(unused),
                   broken_refs=[], optional_broken_refs=[], undeclared=[])  # fmt: skip


def summary(found: list[blast.Impact]) -> list[tuple[str, str, str, list[str], bool]]:
    return [(i.secret, i.secret_key, i.change, [r.consumer.name for r in i.readers], i.breaking) for i in found]


BEFORE = preview(es(data={"K1": "app/a#x", "K2": "app/b#y"}))


@pytest.mark.parametrize(
    ("after", "edges", "expected"),
    [
        pytest.param(preview(es(data={"K2": "app/b#y"})), [edge("app", "K1")],
                     [("app", "K1", "removed", ["web"], True)], id="removed key read"),
        pytest.param(preview(es(data={"K1_NEW": "app/a#x", "K2": "app/b#y"})), [edge("app", "K1")],
                     [("app", "K1", "removed", ["web"], True)], id="renamed key read"),
        pytest.param(preview(es(data={"K2": "app/b#y"})), [edge("app", "K1", optional=True)],
                     [("app", "K1", "removed", ["web"], False)], id="removed key read optionally"),
        pytest.param(preview(es(data={"K2": "app/b#y"})), [],
                     [("app", "K1", "removed", [], False)], id="removed key read by nobody"),
        pytest.param(preview(es(data={"K1": "app/a#x", "K2": "app/c#y"})), [edge("app", "K2", reader="api")],
                     [("app", "K2", "changed", ["api"], False)], id="repointed key"),
        pytest.param(preview(es(target="app-v2", data={"K1": "app/a#x", "K2": "app/b#y"})), [edge("app", "K1")],
                     [("app", "K1", "removed", ["web"], True), ("app", "K2", "removed", [], False)], id="target renamed"),
        pytest.param(preview(), [edge("app", "K2")],
                     [("app", "K1", "removed", [], False), ("app", "K2", "removed", ["web"], True)], id="ExternalSecret deleted"),
        pytest.param(preview(es(data={"K1": "app/a#x", "K2": "app/b#y"}, policy="None")), [edge("app", "K1")],
                     [("app", "K1", "removed", ["web"], True), ("app", "K2", "removed", [], False)], id="creation policy None writes nothing"),
        pytest.param(BEFORE, [edge("app", "K1")], [], id="unchanged"),
    ],
)  # fmt: skip
def test_impacts_when_change_touches_keys_then_each_with_readers_and_breaking_only_when_removed_and_read(
    after: dict[str, Any], edges: list[Edge], expected: list[tuple[Any, ...]]
) -> None:
    assert summary(blast.impacts(BEFORE, after, lineage(*edges))) == expected


def test_impacts_when_data_from_dropped_then_its_keys_from_the_lineage_removed() -> None:
    before = preview(es(name="copy", data_from=("app/all",)))
    unused = UnusedKey(vault_key="app/all", property="b", external_secret="copy", namespace=NS, secret="copy", secret_key="b",
                       source="data_from", module="m", team="core")  # fmt: skip
    seen = lineage(edge("copy", "a", source="data_from", vault_key="app/all"), unused=(unused,))
    assert blast.impacts(before, before, seen) == []
    assert summary(blast.impacts(before, preview(es(name="copy", data_from=("app/other",))), seen)) == [
        ("copy", "a", "removed", ["web"], True),
        ("copy", "b", "removed", [], False),
    ]


def test_impacts_when_no_lineage_then_keys_of_data_only_and_no_readers() -> None:
    assert summary(blast.impacts(BEFORE, preview(es(data={"K2": "app/b#y"})), None)) == [("app", "K1", "removed", [], False)]


def test_by_stack_when_two_for_one_stack_or_one_for_another_then_refused() -> None:
    with pytest.raises(InputError, match="two lineage reports for stack staging"):
        blast.by_stack([lineage(), lineage()], ["staging"])
    with pytest.raises(InputError, match=r"a lineage report of stack staging, which this diff does not cover \(production\)"):
        blast.by_stack([lineage()], ["production"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "cannot read the lineage report: No such file or directory"),
        ("{", "not a lineage report (`ameide-secrets lineage --format json` writes one)"),
        (json.dumps({"stack": "staging"}), "not a lineage report"),
    ],
)
def test_read_lineage_when_file_missing_or_not_a_report_then_input_error_naming_it(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "lineage.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=f"^{path}: ") as error:
        blast.read_lineage(path)
    assert message in str(error.value)


def test_read_lineage_when_written_by_lineage_then_read_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "lineage.json"
    written = lineage(edge("app", "K1"))
    path.write_text(written.model_dump_json())
    assert blast.read_lineage(path) == written
