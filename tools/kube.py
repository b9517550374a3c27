"""The cluster side of the tools that run around a deploy (`tools.precheck`, `tools.smoke`): kubectl
with the stack's context, and their shared command line."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from declarations import inventory
from declarations.settings import SettingsError, StackSettings


class ClusterUnreachableError(Exception):
    """The cluster could not be asked at all: nothing was checked."""


# Exit 2 with the message: nothing was checked.
USAGE_ERRORS = (SettingsError, inventory.DeclarationErrors, ClusterUnreachableError)


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


def parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """`--stack`, `--context` and `--format`, shared by the tools."""
    parsed = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parsed.add_argument("--stack", required=True)
    parsed.add_argument("--context", help="kubeconfig context (default: the stack's kubeContext)")
    parsed.add_argument("--format", choices=["text", "json"], default="text")
    return parsed


def connect(stack: str, context: str | None) -> tuple[StackSettings, Kubectl]:
    settings = StackSettings.for_stack(stack)
    context = context or settings.kube_context
    if context is None:
        raise ClusterUnreachableError(f"stack {stack} has no kubeContext (it renders to a directory): pass --context")
    return settings, Kubectl(context)


def report(findings: Sequence[Any], output: str) -> int:
    """Print each finding (text: one line each; json: a list of objects); exit 1 when there is any."""
    if output == "json":
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for finding in findings:
            print(finding)
    return 1 if findings else 0


def fail(error: Exception) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2
