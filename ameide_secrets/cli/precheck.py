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
    parser = argparse.ArgumentParser(prog="ameide-secrets precheck", description=(__doc__ or "").splitlines()[0])
    output.add_stack(parser)
    parser.add_argument("--context", help="kubeconfig context (default: the stack's kubeContext)")
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
