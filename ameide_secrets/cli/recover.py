"""`ameide-secrets recover --stack S`: after an interrupted `pulumi up`, settle its pending operations so the next `pulumi up` converges.

    ameide-secrets recover --stack staging [--cancel] [--pulumi-stack org/ameide-secrets/staging] [--config-file F] [--dry-run] [--format text|json]

On a `file://` backend it first removes the checkpoint's metadata sidecar a killed write left empty (every
command on the stack fails with `failed to load checkpoint: EOF` until then). Reads `pulumi stack export`; the stack's own pending creates are imported with the IDs the program gives
their objects (`namespace/name`), every other pending create is cleared, and `pulumi refresh` reads every
object again (dropping the imported ones the cluster does not have, and the pending updates and deletes).
Prints one line per pending operation. Run it only when no other deploy of the stack runs
(docs/runbook.md, "An interrupted pulumi up"). Exit 1 naming what failed, or what is still pending.
"""

from __future__ import annotations

import argparse
import json
import sys

from ameide_secrets import recovery
from ameide_secrets.cli import output
from ameide_secrets.clients.pulumi_cli import PulumiCli, PulumiError, empty_sidecars
from ameide_secrets.declare.settings import PROJECT


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("recover", __doc__)
    output.add_stack(parser)
    parser.add_argument(
        "--pulumi-stack", help="the stack as `pulumi -s` names it, e.g. org/ameide-secrets/staging (default: --stack)"
    )
    parser.add_argument(
        "--cancel",
        action="store_true",
        help="first remove the interrupted run's lock (`pulumi cancel`): only when no deploy of the stack runs any more",
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    output.add_format(parser)
    return parser


def lines(planned: recovery.Plan) -> list[dict[str, str]]:
    """One action per pending operation, in the plan's order."""
    return [
        *({"action": "import", "resource": str(i.pending), "id": i.id, "urn": i.pending.urn} for i in planned.imports),
        *({"action": "clear", "resource": str(p), "urn": p.urn} for p in planned.cleared),
        *({"action": "refresh", "resource": str(p), "operation": p.operation, "urn": p.urn} for p in planned.settled),
    ]


def describe(line: dict[str, str]) -> str:
    if line["action"] == "import":
        return f"import {line['resource']} as {line['id']} (pending create of an object of this stack)"
    if line["action"] == "clear":
        return f"clear {line['resource']} (pending create of no object of this stack, or already recorded)"
    return f"refresh {line['resource']} (pending {line['operation']}: the refresh reads it again)"


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        stack = output.stack(options)
        cli = PulumiCli(options.root, options.pulumi_stack or options.stack, options.config_file)
        for sidecar in empty_sidecars(cli.env.get("PULUMI_BACKEND_URL", ""), PROJECT, cli.stack):
            if not options.dry_run:
                sidecar.unlink()
            print(
                f"{'would remove' if options.dry_run else 'removed'} {sidecar} (empty: a killed checkpoint write left it; the checkpoint itself is intact)"
            )
        if options.cancel and not options.dry_run:
            cli.run("cancel", "--yes")
            print(f"cancelled the interrupted update of {cli.stack} (its lock is gone)")
        exported = cli.export()
        planned = recovery.plan(exported, stack)
        actions = lines(planned)
        if options.format == "json":
            print(json.dumps(actions, indent=2))
        else:
            for line in actions:
                print(describe(line))
        if planned.empty:
            print(f"{options.stack}: no pending operation; `pulumi up` needs no recovery", file=sys.stderr)
            return output.CLEAN
        if options.dry_run:
            return output.CLEAN
        # The stack's own creates become resources with their IDs and the rest go, in one state import; the
        # refresh then reads each from the cluster (an absent one is dropped: the next `pulumi up` creates it).
        cli.import_state(recovery.recovered(exported, planned))
        cli.run("refresh", "--yes", "--skip-preview", config=True)
        left = recovery.pending_operations(cli.export())
        if left:
            raise PulumiError(
                f"{options.stack}: still pending after the refresh: " + ", ".join(f"{p.operation} {p}" for p in left)
            )
        print(f"{options.stack}: {len(actions)} pending operations settled; run `pulumi up`", file=sys.stderr)
    if failed:
        return output.INVALID
    return output.CLEAN
