"""`ameide-secrets rollout [--format markdown|json]`: which workloads each environment still gets from the legacy chart."""

from __future__ import annotations

import argparse
import sys

from ameide_secrets import rollout
from ameide_secrets.cli import output


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("rollout", __doc__)
    output.add_root(parser)
    output.add_format(parser, "markdown", "json")
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        project = output.project(options)
        rows = rollout.matrix(project.declared, project.registry)
    if failed:
        return output.INVALID
    sys.stdout.write(rollout.render_json(rows) + "\n" if options.format == "json" else rollout.render_markdown(rows))
    return output.CLEAN
