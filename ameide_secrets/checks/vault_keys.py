"""Before promoting: every Vault key and property a stack's ExternalSecrets name exists.

For each ExternalSecret the stack owns, every `data` entry's key (and its property, if it names one) and
every `data_from` key must exist in the stack's KV mount; `metadata_policy="Fetch"` reads the key's custom
metadata instead. The token must read the declared prefixes (the PR preview token cannot). No value is
ever printed, logged or kept: only the names of the fields Vault returns are looked at (clients/vault.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ameide_secrets.clients.vault import Answer, Vault
from ameide_secrets.declare.contract import RemoteRef
from ameide_secrets.findings import Finding
from ameide_secrets.project import Stack


@dataclass(frozen=True)
class Reference:
    """One value an ExternalSecret reads from Vault, and where it is declared."""

    module: str
    external_secret: str
    """`namespace/name`."""
    secret_key: str
    """The Secret key it fills, or `data_from[i]` for a whole-secret copy."""
    ref: RemoteRef
    property: str | None
    """The field it reads, as rendered (the string form's is the stack's `stringRefProperty`); None: the whole secret."""
    whole_by_design: bool = False
    """A `data_from` copy, which reads every field on purpose."""


def references(stack: Stack) -> list[Reference]:
    """Every Vault value the stack's owned ExternalSecrets read."""
    found = []
    for declared in stack.owned:
        args = declared.args
        for spec in args.external_secrets:
            where = f"{args.namespace}/{spec.name}"
            found += [
                Reference(
                    declared.module, where, f"secretKey {key!r}", ref, spec.property_of(key, stack.settings.string_ref_property)
                )
                for key, ref in spec.data.items()
            ]
            found += [
                Reference(declared.module, where, f"data_from[{i}]", ref, None, whole_by_design=True)
                for i, ref in enumerate(spec.data_from)
            ]
    return found


def check(refs: list[Reference], vault: Vault) -> Iterator[Finding]:
    """Every reference whose key or property Vault does not have (or will not show this token)."""
    answers: dict[tuple[str, str | None, bool], Answer] = {}
    for reference in refs:
        ref = reference.ref
        metadata = ref.metadata_policy == "Fetch"
        asked = (ref.key, ref.version, metadata)
        if asked not in answers:
            answers[asked] = vault.fields(ref.key, ref.version, metadata)
        answer, shown = answers[asked], vault.path(ref.key, metadata)

        def missing(problem: str, r: Reference = reference) -> Finding:
            return Finding(
                problem,
                file=r.module,
                object=f"ExternalSecret {r.external_secret}",
                field=r.secret_key,
                extra={"key": r.ref.key, "property": r.property},
            )

        if answer.status == 404:
            yield missing(f"key {ref.key!r} does not exist in Vault ({shown}); write it before promoting")
        elif answer.status == 403:
            yield missing(f"this token may not read key {ref.key!r} ({shown}): use a token that reads the declared prefixes")
        elif answer.status != 200:
            yield missing(f"Vault answered HTTP {answer.status} for key {ref.key!r} ({shown})")
        elif reference.property is not None and reference.property not in answer.fields:
            where = "custom metadata" if metadata else "secret"
            yield missing(
                f"key {ref.key!r} has no property {reference.property!r} in its {where}; add it, or fix the declaration"
            )
        elif reference.property is None and not reference.whole_by_design and not metadata and len(answer.fields) > 1:
            yield missing(
                f"key {ref.key!r} has {len(answer.fields)} fields and the ref names no property, so ESO writes them all as "
                "one JSON value; name the property (or copy every field with data_from)"
            )
