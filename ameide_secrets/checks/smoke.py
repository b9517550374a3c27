"""After `pulumi up`: did every ExternalSecret of the stack really sync, from its current spec?

For each ExternalSecret the stack owns: it exists; ESO reports Ready with reason SecretSynced *for its
current generation* (`status.syncedResourceVersion` is `<generation>-<hash>`: a Ready left over from the
previous spec does not count, which is what `pulumi up`'s waitFor cannot tell, ESO's status having no
observedGeneration); its Secret exists with every declared `data` key (key names only, never values).
Every `existing_secrets` entry exists. ESO needs a moment after an update: `run` retries until its timeout.
A failed sync is named with ESO's last error for it (its Warning event: Vault sealed, a login or a read
refused), since the condition itself only says "could not get secret data from provider".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ameide_secrets.findings import Finding
from ameide_secrets.project import Stack
from ameide_secrets.vocabulary import READY_REASON

Where = tuple[str, str]
NO_STATUS = "ESO has not reconciled it (no status): is the ESO controller running, and watching this namespace?"
ERROR_CHARS = 600
"""ESO's error is cut there: Vault's answer comes last, after the key and the URL; still one line."""


@dataclass(frozen=True)
class Expected:
    """An object the stack's modules say must be on the cluster."""

    module: str
    kind: str
    """ExternalSecret | Secret (an existing_secrets entry)."""
    namespace: str
    name: str
    target: str | None = None
    """The Secret the ExternalSecret writes (None: creation_policy None, nothing is written)."""
    keys: tuple[str, ...] = ()
    """Secret keys its `data` declares."""


def expected(stack: Stack) -> list[Expected]:
    found = []
    for workload in stack.owned:
        args = workload.args
        for spec in args.external_secrets:
            target = None if spec.creation_policy == "None" else spec.target_name
            found.append(Expected(workload.module, "ExternalSecret", args.namespace, spec.name, target, tuple(sorted(spec.data))))
        found += [Expected(workload.module, "Secret", args.namespace, name) for name in args.existing_secrets]
    return found


def _ready(es: Mapping[str, Any]) -> Mapping[str, Any]:
    return next((c for c in (es.get("status") or {}).get("conditions", []) if c.get("type") == "Ready"), {})


def check(
    wanted: list[Expected],
    external_secrets: Mapping[Where, Mapping[str, Any]],
    secret_keys: Mapping[Where, frozenset[str]],
    errors: Mapping[Where, str] | None = None,
) -> Iterator[Finding]:
    """The failures among `wanted`; `errors` (ExternalSecret -> ESO's last error, clients/kubernetes.py's
    `sync_errors`) says why one failed to sync, which its condition does not."""
    for item in wanted:
        where = (item.namespace, item.name)

        def failure(message: str, item: Expected = item) -> Finding:
            return Finding(message, file=item.module, object=f"{item.kind} {item.namespace}/{item.name}")

        if item.kind == "Secret":
            if where not in secret_keys:
                yield failure("does not exist (existing_secrets names a Secret something else must create)")
            continue
        es = external_secrets.get(where)
        if es is None:
            yield failure("does not exist on the cluster")
            continue
        if not es.get("status"):
            # ESO writes a status on its first reconcile, failed or not: none at the deadline means no ESO saw it.
            yield failure(f"not synced: {NO_STATUS}")
            continue
        ready = _ready(es)
        if ready.get("status") != "True" or ready.get("reason") != READY_REASON:
            reason = ready.get("reason") or "no Ready condition yet"
            message = f"not synced: {reason}: {ready.get('message', '')}".rstrip(": ")
            if ready.get("status") == "False" and (error := (errors or {}).get(where)):
                message += f" (ESO's last error: {error[:ERROR_CHARS]})"
            yield failure(message)
            continue
        generation = es["metadata"].get("generation")
        synced = str((es.get("status") or {}).get("syncedResourceVersion", ""))
        if not synced.startswith(f"{generation}-"):
            yield failure(
                f"Ready is from an older spec: ESO last synced generation {synced.split('-')[0] or 'none'}, the object is at {generation}"
            )
            continue
        if item.target is None:
            continue
        keys = secret_keys.get((item.namespace, item.target))
        if keys is None:
            yield failure(f"its Secret {item.target} does not exist")
            continue
        if missing := [key for key in item.keys if key not in keys]:
            yield failure(f"its Secret {item.target} lacks the declared keys {', '.join(missing)}")


Read = Callable[[], tuple[Mapping[Where, Mapping[str, Any]], Mapping[Where, frozenset[str]], Mapping[Where, str]]]


def run(wanted: list[Expected], read: Read, timeout: float, interval: float = 2) -> list[Finding]:
    """The failures still standing at `timeout` (ESO reconciles within seconds of a change); `read` lists
    the cluster's ExternalSecrets, its Secrets' key names and ESO's last errors."""
    deadline = time.monotonic() + timeout
    while True:
        failures = list(check(wanted, *read()))
        if not failures or time.monotonic() >= deadline:
            return failures
        time.sleep(interval)
