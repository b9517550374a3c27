"""What every verb shares: the project and stack options, the one report, the one exit-code convention."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from ameide_secrets.findings import CLEAN, FINDINGS, USAGE, InputError
from ameide_secrets.project import Project, Stack

__all__ = ["CLEAN", "FINDINGS", "INVALID", "USAGE"]

INVALID = FINDINGS
"""Bad input exits like findings: 1."""


def verb_parser(verb: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of `ameide-secrets <verb>`, described by the first line of its module's docstring."""
    return argparse.ArgumentParser(prog=f"ameide-secrets {verb}", description=(doc or "").splitlines()[0])


def add_context(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", help="kubeconfig context (default: the stack's kubeContext)")


def add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(), help="the project (the folder holding Pulumi.yaml; default: the current one)"
    )


def add_stack(parser: argparse.ArgumentParser, required: bool = True) -> None:
    add_root(parser)
    parser.add_argument("--stack", required=required, help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--config-file", type=Path, help="the stack's settings from this file instead, as `pulumi --config-file` reads it"
    )


def add_format(parser: argparse.ArgumentParser, *formats: str) -> None:
    parser.add_argument("--format", choices=formats or ("text", "json"), default=(formats or ("text",))[0])


def project(options: argparse.Namespace) -> Project:
    return Project(options.root)


def stack(options: argparse.Namespace) -> Stack:
    return project(options).stack(options.stack, config_file=options.config_file)


class Failed:
    """Whether the block of `failures()` stopped on bad input."""

    def __init__(self) -> None:
        self.failed = False

    def __bool__(self) -> bool:
        return self.failed


@contextlib.contextmanager
def failures() -> Iterator[Failed]:
    """Print bad input (an InputError: a declaration, a setting, an unreachable server) as it is, without a
    traceback, and let the verb exit INVALID."""
    state = Failed()
    try:
        yield state
    except InputError as error:
        print(error, file=sys.stderr)
        state.failed = True
