"""`ameide-secrets preview --stack S [--format text|json|yaml] [--gate-base REV]`: the offline preview of a stack.

    ameide-secrets preview --stack local [--format text|json|yaml] [--gate-base REV]
    ameide-secrets preview [--stack STACK] --diff-against REV [--format text|markdown] [--lineage FILE]… [--allow-breaking]
        (= ameide-secrets diff)

Exit codes: 0 rendered; 1 the declarations or stack settings are invalid, the rollout gate refused, or a
rendered object breaks the ESO CRD schema or a guardrail (one line per problem), or the diff removes a
Secret key a container still reads (per `--lineage`) without `--allow-breaking`; 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ameide_secrets.cli import output
from ameide_secrets.lineage import blast
from ameide_secrets.offline import preview


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("preview", __doc__)
    output.add_root(parser)
    parser.add_argument("--stack", help="stack name (Pulumi.<stack>.yaml); with --diff-against, every stack when omitted")
    parser.add_argument(
        "--format", choices=["text", "json", "yaml", "markdown"], default="text", help="markdown: --diff-against only"
    )
    parser.add_argument(
        "--gate-base",
        metavar="REV",
        help="git revision whose upstream stack is deployed (e.g. the PR's base branch); checks the rollout gate against it",
    )
    parser.add_argument(
        "--diff-against",
        metavar="REV",
        help="print what changed since git revision REV (added/removed/changed objects, changed fields only)",
    )
    parser.add_argument(
        "--lineage",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="with --diff-against: a stack's lineage report (lineage --format json), for the blast radius; once per stack",
    )
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="with --diff-against: exit 0 even when a removed Secret key is still read (the comment says so)",
    )
    return parser


def main(argv: list[str]) -> int:
    command = parser()
    options = command.parse_args(argv)
    if options.diff_against is None and options.stack is None:
        command.error("--stack is required (unless --diff-against)")
    if options.format == "markdown" and options.diff_against is None:
        command.error("--format markdown goes with --diff-against")
    if (options.lineage or options.allow_breaking) and options.diff_against is None:
        command.error("--lineage and --allow-breaking go with --diff-against")
    with output.failures() as failed:
        project = output.project(options)
        if options.diff_against is not None:
            stacks = [options.stack] if options.stack else project.stack_names
            lineages = [blast.read_lineage(path) for path in options.lineage]
            shown, breaking = preview.diff_against(
                project, options.diff_against, stacks, options.format, lineages, options.allow_breaking
            )
            print(shown)
            if breaking and not options.allow_breaking:
                keys = f"{breaking} removed Secret key{'s' if breaking != 1 else ''}"
                print(f"{keys} still read by a container: pass --allow-breaking to accept", file=sys.stderr)
                return output.FINDINGS
            return output.CLEAN
        rendered = preview.render(project, options.stack, options.format, options.gate_base, one_shot=True)
    if failed:
        return output.INVALID
    if rendered.violations:
        print("\n".join(str(v) for v in rendered.violations), file=sys.stderr)
        return output.INVALID
    if preview.gate_unchecked(project, options.stack, options.gate_base):
        print(
            f"note: the rollout gate of stack {options.stack} was NOT checked (no backend offline); "
            "pass --gate-base REV to check it against the upstream stack at REV",
            file=sys.stderr,
        )
    sys.stdout.write(rendered.output)
    return output.CLEAN
