"""`ameide-secrets diff --base REV`: what the working tree changes in each stack, changed fields only.

    ameide-secrets diff --base origin/main [--stack S] [--format text|markdown] [--lineage FILE]… [--allow-breaking]

The base revision is rendered by its own code in a temporary worktree; the working tree is never touched.
With a stack's lineage report (`lineage --stack S --format json`), the diff lists who reads each Secret
key it removes, renames or repoints (lineage/blast.py), and exits 1 when a container still reads a removed
one, unless `--allow-breaking` (the comment says so either way).
"""

from __future__ import annotations

import argparse

from ameide_secrets.cli import output, preview


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("diff", __doc__)
    parser.add_argument("--base", required=True, metavar="REV", help="the git revision to compare with (e.g. origin/main)")
    parser.add_argument("--stack", help="one stack (Pulumi.<stack>.yaml); every stack when omitted")
    parser.add_argument("--format", choices=["text", "markdown"], default="text")
    parser.add_argument(
        "--lineage",
        action="append",
        default=[],
        metavar="FILE",
        help="a stack's lineage report (`lineage --format json`): the diff lists who reads each removed or repointed key; once per stack",
    )
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="exit 0 even when a removed Secret key is still read by a container (the workflow passes it when the PR is labelled)",
    )
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    return preview.main(
        [
            "--diff-against", options.base, "--format", options.format,
            *(["--stack", options.stack] if options.stack else []),
            *(arg for path in options.lineage for arg in ("--lineage", path)),
            *(["--allow-breaking"] if options.allow_breaking else []),
        ]
    )  # fmt: skip
