"""Render a stack as it was at a git revision, in a temporary worktree (the working tree is never touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ameide_secrets.findings import InputError
from ameide_secrets.offline.crd_schema import crds_dir


class RevisionError(InputError):
    """The revision could not be checked out or its preview failed."""


def _git(root: Path, *args: str) -> None:
    completed = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RevisionError(f"git {' '.join(args)}: {completed.stderr.strip()}")


def _preview_command(worktree: Path) -> list[str]:
    """The offline preview's command line in a revision: the one command line, or before it `tools.preview`."""
    if (worktree / "ameide_secrets" / "__main__.py").is_file():
        return ["-m", "ameide_secrets", "preview"]
    return ["-m", "tools.preview"]


def preview_at(root: Path, revision: str, stack: str, fmt: str = "json") -> str:
    """The offline preview of `stack` at `revision` of the repository at `root`, in format `fmt`, run by
    that revision's own code."""
    with tempfile.TemporaryDirectory(prefix="ameide-secrets-") as tmp:
        worktree = Path(tmp) / "tree"
        _git(root, "worktree", "add", "--detach", "--quiet", str(worktree), revision)
        try:
            completed = subprocess.run(
                [sys.executable, *_preview_command(worktree), "--stack", stack, "--format", fmt],
                cwd=worktree,
                # The worktree is not beside ../shared: point it at the CRDs this run uses.
                env={**os.environ, "ESO_CRDS_DIR": str(crds_dir(root))},
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            _git(root, "worktree", "remove", "--force", str(worktree))
    if completed.returncode != 0:
        raise RevisionError(f"preview of stack {stack} at {revision} failed:\n{completed.stderr.strip()}")
    return completed.stdout


def stack_outputs_at(root: Path, revision: str, stack: str) -> dict[str, Any]:
    """The stack outputs `stack` had at `revision` (what `pulumi up` deployed from it)."""
    outputs: dict[str, Any] = json.loads(preview_at(root, revision, stack, "json"))["outputs"]
    return outputs
