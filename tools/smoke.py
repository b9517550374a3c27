"""After `pulumi up`: did every ExternalSecret of the stack really sync, from its current spec?

    python -m tools.smoke --stack staging [--context ameide-staging] [--timeout 120] [--format text|json]

For each ExternalSecret the stack owns, on the cluster of `--context` (default: the stack's
kubeContext; KUBECONFIG as kubectl reads it): it exists; ESO reports Ready with reason SecretSynced
*for its current generation* (`status.syncedResourceVersion` is `<generation>-<hash>`: a Ready left
over from the previous spec does not count, which is what `pulumi up`'s waitFor cannot tell, ESO's
status having no observedGeneration); its Secret exists with every declared `data` key (key names
only, never values). Every `existing_secrets` entry exists. ESO needs a moment after an update:
each check is retried until `--timeout`. Exit 1 naming each failure with its module; 2 when the
cluster cannot be asked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from declarations import inventory
from declarations.settings import StackSettings
from tools import kube


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


@dataclass(frozen=True)
class Failure:
    module: str
    object: str
    problem: str

    def __str__(self) -> str:
        return f"{self.module}: {self.object}: {self.problem}"


def expected(settings: StackSettings) -> list[Expected]:
    owned = inventory.owned(inventory.discover(), settings.environment)
    found = []
    for workload in owned:
        args = workload.args
        for spec in args.external_secrets:
            target = None if spec.creation_policy == "None" else spec.target_name
            found.append(Expected(workload.module, "ExternalSecret", args.namespace, spec.name, target, tuple(sorted(spec.data))))
        found += [Expected(workload.module, "Secret", args.namespace, name) for name in args.existing_secrets]
    return found


def _ready(es: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in (es.get("status") or {}).get("conditions", []) if c.get("type") == "Ready"), {})


def check(
    wanted: list[Expected],
    external_secrets: dict[tuple[str, str], dict[str, Any]],
    secrets: dict[tuple[str, str], dict[str, Any]],
) -> Iterator[Failure]:
    for item in wanted:
        where = (item.namespace, item.name)
        label = f"{item.kind} {item.namespace}/{item.name}"
        if item.kind == "Secret":
            if where not in secrets:
                yield Failure(item.module, label, "does not exist (existing_secrets names a Secret something else must create)")
            continue
        es = external_secrets.get(where)
        if es is None:
            yield Failure(item.module, label, "does not exist on the cluster")
            continue
        ready = _ready(es)
        if ready.get("status") != "True" or ready.get("reason") != "SecretSynced":
            reason = ready.get("reason") or "no Ready condition yet"
            yield Failure(item.module, label, f"not synced: {reason}: {ready.get('message', '')}".rstrip(": "))
            continue
        generation = es["metadata"].get("generation")
        synced = str((es.get("status") or {}).get("syncedResourceVersion", ""))
        if not synced.startswith(f"{generation}-"):
            yield Failure(
                item.module, label,
                f"Ready is from an older spec: ESO last synced generation {synced.split('-')[0] or 'none'}, the object is at {generation}",
            )  # fmt: skip
            continue
        if item.target is None:
            continue
        secret = secrets.get((item.namespace, item.target))
        if secret is None:
            yield Failure(item.module, label, f"its Secret {item.target} does not exist")
            continue
        if missing := [key for key in item.keys if key not in (secret.get("data") or {})]:
            yield Failure(item.module, label, f"its Secret {item.target} lacks the declared keys {', '.join(missing)}")


def run(wanted: list[Expected], kubectl: kube.Kubectl, timeout: float, interval: float = 2) -> list[Failure]:
    """The failures still standing at `timeout` (ESO reconciles within seconds of a change)."""
    deadline = time.monotonic() + timeout
    while True:
        failures = list(check(wanted, kubectl.list("externalsecrets.external-secrets.io"), kubectl.list("secrets")))
        if not failures or time.monotonic() >= deadline:
            return failures
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = kube.parser("python -m tools.smoke", __doc__ or "")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for ESO to settle (default 120)")
    options = parser.parse_args(argv)
    try:
        settings, kubectl = kube.connect(options.stack, options.context)
        wanted = expected(settings)
        failures = run(wanted, kubectl, options.timeout)
    except kube.USAGE_ERRORS as error:
        return kube.fail(error)
    checked = len(wanted)
    print(f"{options.stack}: {checked - len(failures)} of {checked} objects synced and present", file=sys.stderr)
    return kube.report(failures, options.format)


if __name__ == "__main__":
    sys.exit(main())
