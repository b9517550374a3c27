"""`ameide-secrets diff --base REV`: what the working tree changes in each stack, changed fields only.

The base revision is rendered by its own code in a temporary worktree; the working tree is never touched.
"""

from __future__ import annotations

import argparse

from ameide_secrets.cli import output, preview


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("diff", __doc__)
    parser.add_argument("--base", required=True, metavar="REV", help="the git revision to compare with (e.g. origin/main)")
    parser.add_argument("--stack", help="one stack (Pulumi.<stack>.yaml); every stack when omitted")
    parser.add_argument("--format", choices=["text", "markdown"], default="text")
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    return preview.main(
        ["--diff-against", options.base, "--format", options.format, *(["--stack", options.stack] if options.stack else [])]
    )
