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

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from components import inventory
from components.settings import SettingsError, StackSettings


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


class ClusterUnreachableError(Exception):
    """kubectl could not ask the cluster at all: nothing was checked."""


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


class Kubectl:
    def __init__(self, context: str) -> None:
        binary = shutil.which("kubectl")
        if binary is None:
            raise ClusterUnreachableError("kubectl is not on PATH")
        self.argv = [binary, "--context", context]

    def list(self, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(namespace, name) -> object, of every `kind` in the cluster."""
        completed = subprocess.run([*self.argv, "get", kind, "-A", "-o", "json"], capture_output=True, text=True, timeout=120)
        if completed.returncode != 0:
            raise ClusterUnreachableError(f"kubectl get {kind}: {completed.stderr.strip()}")
        items = json.loads(completed.stdout)["items"]
        return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in items}


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


def run(settings: StackSettings, kubectl: Kubectl, timeout: float, interval: float = 2) -> list[Failure]:
    """The failures still standing at `timeout` (ESO reconciles within seconds of a change)."""
    wanted = expected(settings)
    deadline = time.monotonic() + timeout
    while True:
        failures = list(check(wanted, kubectl.list("externalsecrets.external-secrets.io"), kubectl.list("secrets")))
        if not failures or time.monotonic() >= deadline:
            return failures
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--context", help="kubeconfig context (default: the stack's kubeContext)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for ESO to settle (default 120)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    options = parser.parse_args(argv)
    try:
        settings = StackSettings.for_stack(options.stack)
        context = options.context or settings.kube_context
        if context is None:
            print(f"error: stack {options.stack} has no kubeContext (it renders to a directory): pass --context", file=sys.stderr)
            return 2
        failures = run(settings, Kubectl(context), options.timeout)
    except (SettingsError, inventory.DeclarationErrors) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ClusterUnreachableError as error:
        print(f"error: cannot ask the cluster: {error}", file=sys.stderr)
        return 2
    if options.format == "json":
        print(json.dumps([asdict(f) for f in failures], indent=2))
    else:
        for failure in failures:
            print(failure)
        checked = len(expected(settings))
        print(f"{options.stack}: {checked - len(failures)} of {checked} objects synced and present", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
