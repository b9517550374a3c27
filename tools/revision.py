"""Render a stack as it was at a git revision, in a temporary worktree (the working tree is never touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from declarations.settings import ROOT
from tools.crd_schema import crds_dir


class RevisionError(Exception):
    """The revision could not be checked out or its preview failed."""


def _git(*args: str) -> None:
    completed = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RevisionError(f"git {' '.join(args)}: {completed.stderr.strip()}")


def preview_at(revision: str, stack: str, fmt: str = "json") -> str:
    """The offline preview of `stack` at `revision`, in format `fmt`, run by that revision's own code."""
    with tempfile.TemporaryDirectory(prefix="ameide-secrets-") as tmp:
        worktree = Path(tmp) / "tree"
        _git("worktree", "add", "--detach", "--quiet", str(worktree), revision)
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "tools.preview", "--stack", stack, "--format", fmt],
                cwd=worktree,
                # The worktree is not beside ../shared: point it at the CRDs this run uses.
                env={**os.environ, "ESO_CRDS_DIR": str(crds_dir())},
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            _git("worktree", "remove", "--force", str(worktree))
    if completed.returncode != 0:
        raise RevisionError(f"preview of stack {stack} at {revision} failed:\n{completed.stderr.strip()}")
    return completed.stdout


def stack_outputs_at(revision: str, stack: str) -> dict[str, Any]:
    """The stack outputs `stack` had at `revision` (what `pulumi up` deployed from it)."""
    outputs: dict[str, Any] = json.loads(preview_at(revision, stack, "json"))["outputs"]
    return outputs
