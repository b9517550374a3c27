"""Pure: the blast radius of a PR — which containers read a Secret key the change removes, renames or repoints.

From the two JSON previews of a stack (base revision, this change) it takes each ExternalSecret's Secret
and keys: its `data[].secretKey`s with their remote refs, and the keys a `dataFrom` copies as the stack's
lineage last saw them (a lineage report, `lineage --format json`: its `data_from` edges). A key of a
Secret in the base that the change no longer writes is *removed* (a rename is a removal and an
addition); one whose remote ref differs is *changed*. Each lists the consumers the lineage has for it.
A removed key that a container still reads, other than through an `optional` reference, is *breaking*:
the container fails on its next start (CreateContainerConfigError), or loses the variable or file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ameide_secrets.findings import InputError
from ameide_secrets.lineage.chain import Lineage
from ameide_secrets.lineage.consumers import Consumer
from ameide_secrets.vocabulary import EXTERNAL_SECRET

_MODEL = ConfigDict(extra="forbid", frozen=True)

KeyWhere = tuple[str, str, str]
"""(namespace, Secret, Secret key)."""


class Reader(BaseModel):
    model_config = _MODEL

    consumer: Consumer
    optional: bool


class Impact(BaseModel):
    """One Secret key the change removes or repoints, and who reads it."""

    model_config = _MODEL

    namespace: str
    secret: str
    secret_key: str
    external_secret: str
    change: Literal["removed", "changed"]
    detail: str
    """What changed, e.g. `remote ref plausible/a#url -> plausible/b#url`."""
    readers: list[Reader]
    breaking: bool


def read_lineage(path: Path) -> Lineage:
    """A lineage report written by `lineage --format json` (or `--output`)."""
    try:
        return Lineage.model_validate(json.loads(path.read_text()))
    except OSError as error:
        raise InputError(f"{path}: cannot read the lineage report: {error.strerror}") from None
    except (json.JSONDecodeError, ValidationError) as error:
        first = str(error).splitlines()[0]
        raise InputError(f"{path}: not a lineage report (`ameide-secrets lineage --format json` writes one): {first}") from None


def _ref(ref: Mapping[str, Any]) -> str:
    key, prop, version = ref.get("key"), ref.get("property"), ref.get("version")
    shown = f"{key}#{prop}" if prop else f"{key} (whole secret)"
    return shown + (f" at version {version}" if version else "")


def written(preview: Mapping[str, Any], lineage: Lineage | None) -> dict[KeyWhere, tuple[str, str]]:
    """(namespace, Secret, key) -> (the ExternalSecret writing it, its source as shown) for every ExternalSecret
    of a JSON preview; a `dataFrom`'s keys as far as `lineage` saw them."""
    copied: dict[tuple[str, str, str], set[str]] = {}
    for edge in lineage.edges if lineage else []:
        if edge.source == "data_from" and edge.vault_key is not None:
            copied.setdefault((edge.namespace, edge.secret, edge.vault_key), set()).add(edge.secret_key)
    for unused in lineage.unused_keys if lineage else []:
        if unused.source == "data_from" and unused.vault_key is not None:
            copied.setdefault((unused.namespace, unused.secret, unused.vault_key), set()).add(unused.secret_key)
    found: dict[KeyWhere, tuple[str, str]] = {}
    for resource in preview.get("resources", []):
        inputs = resource.get("inputs") or {}
        if not resource.get("type", "").startswith("kubernetes:") or inputs.get("kind") != EXTERNAL_SECRET:
            continue
        meta, spec = inputs.get("metadata") or {}, inputs.get("spec") or {}
        target = spec.get("target") or {}
        if target.get("creationPolicy") == "None":
            continue
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        secret = str(target.get("name") or name)
        for entry in spec.get("dataFrom") or []:
            vault_key = str((entry.get("extract") or {}).get("key", ""))
            for key in copied.get((namespace, secret, vault_key), ()):
                found[(namespace, secret, key)] = (name, f"dataFrom {vault_key}")
        for entry in spec.get("data") or []:
            found[(namespace, secret, str(entry.get("secretKey", "")))] = (name, _ref(entry.get("remoteRef") or {}))
    return found


def impacts(before: Mapping[str, Any], after: Mapping[str, Any], lineage: Lineage | None) -> list[Impact]:
    """Every key of the base that the change removes or repoints, with its readers from `lineage`."""
    old, new = written(before, lineage), written(after, lineage)
    readers: dict[KeyWhere, dict[Reader, None]] = {}
    for edge in lineage.edges if lineage else []:
        readers.setdefault((edge.namespace, edge.secret, edge.secret_key), {})[
            Reader(consumer=edge.consumer, optional=edge.optional)
        ] = None
    found = []
    for where, (external_secret, source) in sorted(old.items()):
        if where in new and new[where][1] == source:
            continue
        change: Literal["removed", "changed"] = "removed" if where not in new else "changed"
        detail = f"no longer written (was {source})" if change == "removed" else f"{source} -> {new[where][1]}"
        reading = list(readers.get(where, {}))
        found.append(
            Impact(
                namespace=where[0],
                secret=where[1],
                secret_key=where[2],
                external_secret=external_secret,
                change=change,
                detail=detail,
                readers=reading,
                breaking=change == "removed" and any(not r.optional for r in reading),
            )
        )
    return found


def by_stack(lineages: Iterable[Lineage], stacks: Iterable[str]) -> dict[str, Lineage]:
    """The lineage of each stack; refuses two for one stack, or one for a stack the diff does not cover."""
    found: dict[str, Lineage] = {}
    covered = set(stacks)
    for lineage in lineages:
        if lineage.stack in found:
            raise InputError(f"two lineage reports for stack {lineage.stack}: give one per stack")
        if lineage.stack not in covered:
            raise InputError(
                f"a lineage report of stack {lineage.stack}, which this diff does not cover ({', '.join(sorted(covered))})"
            )
        found[lineage.stack] = lineage
    return found
