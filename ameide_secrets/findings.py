"""One "where, what, how to fix" type for every verb, its text and JSON report, and the one error type a user can fix.

A finding says where (the file and line, the workload, the object, the field), what is wrong and how
to fix it in its message; `rule` is a stable id where a rule has one. Names and paths only: never a
secret value. Every verb prints findings through `report` and exits 0 (clean), 1 (findings or bad
input) or 2 (usage, argparse's own).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

CLEAN = 0
FINDINGS = 1
"""Findings, or input that cannot be used (a declaration, a setting, an unreachable cluster or Vault)."""
USAGE = 2


@dataclass(frozen=True)
class Finding:
    message: str
    """What is wrong and how to fix it."""
    file: str | None = None
    """Repository-relative file (a team module, `platform/tenants.yaml`, a stack file)."""
    line: int | None = None
    workload: str | None = None
    object: str | None = None
    """The Kubernetes object, e.g. `ExternalSecret ameide/plausible-secrets`."""
    field: str | None = None
    """The field path, e.g. `WORKLOAD.external_secrets[0].data["SECRET_KEY_BASE"]` or `spec.data[1].remoteRef.key`."""
    rule: str | None = None
    """A stable rule id (the guardrails', the CRD schema's)."""
    extra: Mapping[str, str | None] = dataclasses.field(default_factory=dict)
    """Machine-readable details for the JSON report (e.g. the Vault key and property a check looked for)."""

    def __str__(self) -> str:
        parts = [self.rule] if self.rule else []
        if self.file:
            where = f"{self.file}:{self.line}" if self.line is not None else self.file
            parts.append(f"{where} (workload {self.workload})" if self.workload else where)
        parts += [part for part in (self.object, self.field) if part]
        return ": ".join([*parts, self.message])

    def as_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, {})}


class InputError(Exception):
    """Input a user can fix (a file, a setting, a flag, a server that cannot be reached): printed as it is,
    without a traceback, and the verb exits 1 with nothing half-done."""

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


def count(findings: Sequence[object], what: str) -> str:
    return f"{len(findings)} {what}{'s' if len(findings) != 1 else ''}"


def report(findings: Iterable[Finding], fmt: str = "text", stream: IO[str] | None = None) -> int:
    """Print `findings` (text: one line each; json: a list of objects); FINDINGS when there is any."""
    found = list(findings)
    if fmt == "json":
        print(json.dumps([f.as_json() for f in found], indent=2), file=stream)
    else:
        for finding in found:
            print(finding, file=stream)
    return FINDINGS if found else CLEAN
