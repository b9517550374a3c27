"""`ameide-secrets precheck --stack S`: before `pulumi up`, no unjudged reader in a namespace about to be admitted.

    ameide-secrets precheck --stack staging [--context ameide-staging] [--format text|json]

Exit 1 naming each ExternalSecret and key the admission policy would refuse (checks/precheck.py says
why it matters): delete or fix it, then deploy. Exit 1 too when the cluster cannot be asked.
"""

from __future__ import annotations

import argparse

from ameide_secrets.checks import precheck
from ameide_secrets.cli import output
from ameide_secrets.clients import kubernetes
from ameide_secrets.findings import report


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("precheck", __doc__)
    output.add_stack(parser)
    output.add_context(parser)
    output.add_format(parser)
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        stack = output.stack(options)
        live = kubernetes.Cluster.for_stack(stack.settings, options.context).external_secrets().values()
        found = list(precheck.refusals(stack, live))
    if failed:
        return output.INVALID
    return report(found, options.format)
