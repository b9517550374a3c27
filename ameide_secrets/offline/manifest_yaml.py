"""YAML for manifests: a serializer specialised to what manifests hold (dict, list, str, int, bool, None).

PyYAML, even with libyaml's C emitter, builds a Python node per value before emitting; for a
stack of thousands of ExternalSecrets that costs more than rendering them. Manifest data is a
closed, simple model, so this writes block-style YAML directly: keys sorted, plain scalars where
they cannot be misread, JSON-quoted otherwise (a JSON string is a valid YAML double-quoted
scalar), literal blocks for multi-line text such as CEL expressions. Whatever it writes loads back
through libyaml to the very same data; tests/test_manifest_yaml.py checks that on every stack and
on adversarial strings.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

# Plain (unquoted) only when YAML cannot read it as anything but this string: starts with a
# letter, '/' or '_', a conservative character set, no ': ' or ' #', and not a YAML 1.1 keyword.
_PLAIN = re.compile(r"[A-Za-z_/][-A-Za-z0-9_./:()',+= ]*")
_KEYWORDS = frozenset(
    f(word)
    for word in ("y", "n", "yes", "no", "true", "false", "on", "off", "null")
    for f in (str.lower, str.capitalize, str.upper)
)
# Text a literal block keeps exactly: printable lines without tabs or carriage returns that do not
# end in a space; the first one must not start with a space (it sets the block's indentation).
_BLOCK_LINE = re.compile(r"([^\t\r]*\S)?")


def _plain(text: str) -> bool:
    return (
        _PLAIN.fullmatch(text) is not None
        and text not in _KEYWORDS
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
    )


# Manifests repeat the same keys and values thousands of times: each string is judged once.
@functools.lru_cache(maxsize=1 << 16)
def _string(text: str) -> str:
    return text if _plain(text) else json.dumps(text)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} into a manifest")


def _block(value: str, indent: str) -> str | None:
    """`value` as a literal block scalar, or None when a block could not keep it exactly."""
    if "\n" not in value:
        return None
    if value.endswith("\n\n"):
        return None
    body, chomp = (value[:-1], "") if value.endswith("\n") else (value, "-")
    lines = body.split("\n")
    if not lines[0] or lines[0][0].isspace() or not all(_BLOCK_LINE.fullmatch(line) and line.isprintable() for line in lines):
        return None
    return f" |{chomp}\n" + "".join(f"{indent}  {line}\n" if line else "\n" for line in lines)


def _value(value: Any, indent: str, out: list[str]) -> None:
    """Write what follows `key:` (or `- `): an inline scalar, or a nested block one level deeper."""
    if isinstance(value, dict) and value:
        out.append("\n")
        _mapping(value, indent + "  ", out, first_prefix=indent + "  ")
    elif isinstance(value, list) and value:
        out.append("\n")
        _sequence(value, indent, out)
    elif isinstance(value, dict):
        out.append(" {}\n")
    elif isinstance(value, list):
        out.append(" []\n")
    elif isinstance(value, str) and (block := _block(value, indent)) is not None:
        out.append(block)
    else:
        out.append(f" {_scalar(value)}\n")


def _mapping(value: dict[str, Any], indent: str, out: list[str], first_prefix: str) -> None:
    for i, key in enumerate(sorted(value)):
        out.append(f"{first_prefix if i == 0 else indent}{_scalar(key)}:")
        _value(value[key], indent, out)


def _sequence(value: list[Any], indent: str, out: list[str]) -> None:
    # Items sit at the parent's indentation, as kubectl writes them.
    for item in value:
        if isinstance(item, dict) and item:
            _mapping(item, indent + "  ", out, first_prefix=indent + "- ")
        elif isinstance(item, list) and item:
            out.append(f"{indent}-\n")
            _sequence(item, indent + "  ", out)
        else:
            out.append(f"{indent}-")
            _value(item, indent, out)


def dump_all(documents: Iterable[dict[str, Any]]) -> str:
    """Multi-document YAML, one document per manifest, keys sorted (apiVersion, kind, metadata, …)."""
    out: list[str] = []
    for i, document in enumerate(documents):
        if i:
            out.append("---\n")
        _mapping(document, "", out, first_prefix="")
    return "".join(out)
