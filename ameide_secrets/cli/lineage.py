"""`ameide-secrets lineage --stack S`: which container reads which Vault key; what is unused, broken or undeclared.

    ameide-secrets lineage --stack staging [--context ameide-staging] [--format text|json|markdown|dot] [--output FILE]
    ameide-secrets lineage --stack staging --vault-key plausible/secret-key-base   (who reads it: before a rotation)

Reads, in the stack's namespaces only and with `list` only, the pod templates of Deployments, StatefulSets,
DaemonSets, ReplicaSets, Jobs, CronJobs and Pods, and the key names of the Secrets (their values are
dropped in the client); joins them with the stack's declarations (lineage/chain.py). An identity that
may not list Secrets (the PR preview's) still gets every edge of a `data` key, with a note. `--output`
also writes the JSON report to FILE (what `diff --lineage FILE` reads); `--vault-key` shows only the
edges and unused keys of one Vault key. Exit 1 when a non-optional reference is broken (not with
`--vault-key`), or when the cluster cannot be asked; 0 otherwise. No value is ever printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ameide_secrets.cli import output
from ameide_secrets.clients import kubernetes
from ameide_secrets.lineage import chain, consumers, formats


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("lineage", __doc__)
    output.add_stack(parser)
    output.add_context(parser)
    output.add_format(parser, *formats.FORMATS)
    parser.add_argument("--output", type=Path, metavar="FILE", help="also write the report as JSON to FILE (for diff --lineage)")
    parser.add_argument(
        "--vault-key", metavar="KEY", help="only who reads Vault key KEY (e.g. plausible/secret-key-base), and where it is unused"
    )
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        stack = output.stack(options)
        cluster = kubernetes.Cluster.for_stack(stack.settings, options.context)
        namespaces = stack.namespaces
        consumed = [c for kind, manifest in cluster.workloads(namespaces) for c in consumers.consumptions(kind, manifest)]
        try:
            live: dict[kubernetes.Where, frozenset[str]] | None = cluster.secret_keys(namespaces)
        except kubernetes.ForbiddenError as refused:
            print(f"note: {refused}: data_from and existing Secrets' keys are not judged", file=sys.stderr)
            live = None
        lineage = chain.resolve(stack.name, namespaces, chain.providers(stack), consumed, live)
        if options.vault_key is not None:
            lineage = lineage.of_vault_key(options.vault_key)
    if failed:
        return output.INVALID
    if options.output is not None:
        options.output.write_text(formats.as_json(lineage))
    sys.stdout.write(formats.render(lineage, options.format))
    return output.FINDINGS if lineage.broken_refs else output.CLEAN
