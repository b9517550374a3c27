"""The manifest YAML writer: whatever it writes, libyaml reads back as exactly the same data."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from ameide_secrets.offline import preview
from ameide_secrets.offline.manifest_yaml import dump_all
from ameide_secrets.project import Project

from helpers import STACKS

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=_Loader))


@pytest.mark.parametrize("stack", STACKS)
def test_dump_when_real_stack_then_loads_back_identical(stack: str) -> None:
    objects = preview.plan_objects(Project(), stack)
    assert load(dump_all(objects)) == objects


@pytest.mark.parametrize(
    "text",
    [
        "",
        "true",
        "No",
        "NULL",
        "~",
        "1",
        "0x1F",
        "1e3",
        "12:30",
        "-",
        "- a",
        "a: b",
        "a #b",
        "#a",
        "@a",
        "`a",
        "!a",
        "&a",
        "*a",
        "{a}",
        "[a]",
        ",a",
        "%a",
        "|a",
        ">a",
        "'a",
        '"a',
        "a:",
        " a",
        "a ",
        "a\n",
        "\na",
        "a\n\n",
        "a\n b",
        "a\tb",
        "é",
        "a\u2028b",
        "a\x85b",
        "=",
        "<<",
        "system:auth-delegator",
        "line one\n  indented\nlast",
    ],
)
def test_dump_when_string_could_be_misread_then_round_trips(text: str) -> None:
    document = {"key": text, text or "empty": [text, {"nested": text}], "lists": [[text]]}
    assert load(dump_all([document])) == [document]


def test_dump_when_random_strings_then_every_one_round_trips() -> None:
    alphabet = list("ab :#-?'\"\n\t\r{}[],&*!|>%@`~=.0129yYnN\\/ é\u2028\x85")
    rng = random.Random(20261128)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        document = {"k": text, text or "e": [text, {"x": text}]}
        assert load(dump_all([document])) == [document], repr(text)


def test_dump_when_manifest_then_reads_like_kubectl() -> None:
    manifest = {
        "kind": "ExternalSecret",
        "apiVersion": "external-secrets.io/v1",
        "metadata": {"name": "a", "labels": {}, "annotations": {"pulumi.com/timeoutSeconds": "300"}},
        "spec": {"data": [{"secretKey": "A", "remoteRef": {"key": "a/b"}}], "dataFrom": [], "rule": "x\ny"},
    }
    assert dump_all([manifest, {"kind": "B"}]) == (
        "apiVersion: external-secrets.io/v1\n"
        "kind: ExternalSecret\n"
        "metadata:\n"
        "  annotations:\n"
        '    pulumi.com/timeoutSeconds: "300"\n'
        "  labels: {}\n"
        "  name: a\n"
        "spec:\n"
        "  data:\n"
        "  - remoteRef:\n"
        "      key: a/b\n"
        "    secretKey: A\n"
        "  dataFrom: []\n"
        "  rule: |-\n"
        "    x\n"
        "    y\n"
        "---\n"
        "kind: B\n"
    )


def test_dump_when_value_is_not_manifest_data_then_refuses() -> None:
    with pytest.raises(TypeError, match="cannot write set into a manifest"):
        dump_all([{"a": {1, 2}}])


@pytest.mark.parametrize("word", ["on", "off", "On", "OFF", "y", "n", "Y", "N", "yes", "No", "TRUE", "null"])
def test_dump_when_yaml_1_1_boolean_word_then_text_quotes_it_as_key_and_value(word: str) -> None:
    """Kubernetes' Go YAML reads y/n/on/off as booleans: the text itself must quote them, whatever PyYAML reads."""
    text = dump_all([{word: word}])
    assert text == f'"{word}": "{word}"\n'
