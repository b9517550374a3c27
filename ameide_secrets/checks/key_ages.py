"""How old is each Vault version a stack reads? `vault-check --max-age`, from KV v2 metadata alone.

For each ExternalSecret the stack owns and each Vault key it reads (`data` and `data_from` alike), the
version ESO gets — the pinned `version`, else the current one — was written at that version's
`created_time`. Not the key's `updated_time`: writing its custom metadata or `max_versions` moves that
without a new value. A ref with `metadata_policy="Fetch"` reads the custom metadata, whose age is its
`updated_time`. The bound is the spec's `rotate_within`, else `--max-age`. Only `metadata/` paths are
read, so a token with the stack's audit policy (render/vault_plan.py) suffices and no value is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from ameide_secrets.clients.vault import Vault, Written
from ameide_secrets.findings import Finding
from ameide_secrets.project import Stack
from ameide_secrets.rules import rotation


@dataclass(frozen=True)
class Read:
    """One Vault key (at one version) an ExternalSecret reads, and the bound its age is held to."""

    module: str
    workload: str
    team: str
    external_secret: str
    """`namespace/name`."""
    key: str
    version: str | None
    """The pinned version; None: the current one."""
    metadata: bool
    """`metadata_policy="Fetch"`: the read gets the key's custom metadata."""
    bound: str
    declared: bool
    """The bound is the spec's `rotate_within` (else the command line's)."""


def reads(stack: Stack, max_age: str) -> list[Read]:
    """Every Vault key the stack's owned ExternalSecrets read, once per ExternalSecret, by team and workload."""
    found: dict[Read, None] = {}
    for declared in stack.owned:
        args = declared.args
        for spec in args.external_secrets:
            for ref in [*spec.data.values(), *spec.data_from]:
                read = Read(
                    declared.module,
                    args.workload,
                    args.team,
                    f"{args.namespace}/{spec.name}",
                    ref.key,
                    ref.version,
                    ref.metadata_policy == "Fetch",
                    spec.rotate_within or max_age,
                    spec.rotate_within is not None,
                )
                found[read] = None
    return sorted(found, key=lambda r: (r.team, r.workload, r.external_secret, r.key))


def check(items: list[Read], vault: Vault, now: datetime) -> Iterator[Finding]:
    """Every read whose version is older than its bound, or that Vault's metadata cannot answer for."""
    answers: dict[tuple[str, str | None, bool], Written] = {}
    for item in items:
        asked = (item.key, item.version, item.metadata)
        if asked not in answers:
            answers[asked] = vault.written(item.key, item.version, item.metadata, now=now)
        written, shown = answers[asked], vault.path(item.key, metadata=True)
        what = "its custom metadata" if item.metadata else f"version {written.version}"
        extra = {"key": item.key, "team": item.team, "version": written.version, "bound": item.bound}

        def finding(problem: str, details: dict[str, str | None] = extra, i: Read = item) -> Finding:
            return Finding(
                problem, file=i.module, workload=i.workload, object=f"ExternalSecret {i.external_secret}", extra=details
            )

        if written.status == 404:
            missing = (
                f"key {item.key!r} has no version {written.version}" if written.version else f"key {item.key!r} does not exist"
            )
            yield finding(f"{missing} in Vault ({shown}); write it")
        elif written.status == 403:
            yield finding(f"this token may not read the metadata of key {item.key!r} ({shown}): use the stack's audit token")
        elif written.status != 200 or written.at is None:
            yield finding(f"Vault answered HTTP {written.status} for the metadata of key {item.key!r} ({shown})")
        elif not written.readable:
            yield finding(f"key {item.key!r}: {what} is deleted or destroyed, so ESO reads nothing; write a new version")
        elif (age := (now - written.at).total_seconds()) > rotation.seconds(item.bound):
            source = "rotate_within" if item.declared else "--max-age"
            stamp = f"{written.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
            details = {
                **extra,
                "written": stamp,
                "age": rotation.spelled(age),
                "age_seconds": str(int(age)),
                "bound_from": source,
            }
            yield finding(
                f"key {item.key!r}: {what} was written {stamp}, {rotation.spelled(age)} ago: older than {item.bound} "
                f"({source}); rotate it (docs/runbook.md, 'Rotate a secret')",
                details,
            )
