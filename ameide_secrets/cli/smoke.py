"""`ameide-secrets smoke --stack S`: after `pulumi up`, every ExternalSecret synced from its current spec, every Secret there.

    ameide-secrets smoke --stack staging [--context ameide-staging] [--timeout 120] [--format text|json]

On the cluster of `--context` (default: the stack's kubeContext), each check is retried until `--timeout`
(checks/smoke.py says what is checked). Exit 1 naming each failure with its module, or when the cluster
cannot be asked.
"""

from __future__ import annotations

import argparse
import sys

from ameide_secrets.checks import smoke
from ameide_secrets.cli import output
from ameide_secrets.clients import kubernetes
from ameide_secrets.findings import report


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("smoke", __doc__)
    output.add_stack(parser)
    output.add_context(parser)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for ESO to settle (default 120)")
    output.add_format(parser)
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        stack = output.stack(options)
        cluster = kubernetes.Cluster.for_stack(stack.settings, options.context)
        wanted = smoke.expected(stack)
        found = smoke.run(
            wanted, lambda: (cluster.external_secrets(), cluster.secret_keys(), cluster.sync_errors()), options.timeout
        )
    if failed:
        return output.INVALID
    print(f"{options.stack}: {len(wanted) - len(found)} of {len(wanted)} objects synced and present", file=sys.stderr)
    return report(found, options.format)
