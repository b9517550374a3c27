"""`ameide-secrets <verb>`: one command line, one thin module per verb (arguments and output only).

Only the chosen verb's module is imported, so `preview --format yaml` does not pay for the Vault or
Kubernetes clients. Exit codes, for every verb: 0 clean, 1 findings or bad input, 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# verb -> (module under ameide_secrets.cli, one line of help)
VERBS = {
    "preview": ("preview", "offline preview of a stack (text, yaml, json), checked against the ESO CRDs and guardrails"),
    "diff": ("diff", "what the working tree changes in each stack, against a git revision"),
    "rollout": ("rollout", "the rollout matrix: which workloads each environment still gets from the legacy chart"),
    "legacy": ("legacy", "migration off the legacy chart: import its objects as team modules, compare a stack with it"),
    "vault-check": ("vault_check", "every Vault key and property a stack reads exists (names only, never values)"),
    "precheck": ("precheck", "before pulumi up: no unjudged reader in a namespace about to be admitted"),
    "smoke": ("smoke", "after pulumi up: every ExternalSecret synced from its current spec, every Secret present"),
    "lineage": ("lineage", "which container reads which Vault key; unused keys, broken references, undeclared Secrets"),
    "recover": ("recover", "after an interrupted pulumi up: import its own pending creates, clear the rest, refresh"),
}

USAGE = 2


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {verb:<12} {help_}" for verb, (_, help_) in VERBS.items())
    parser = argparse.ArgumentParser(
        prog="ameide-secrets",
        description="How every ameide workload gets its secrets from Vault: the platform provides access, teams own their secrets.",
        epilog=f"verbs:\n{listing}\n\n`ameide-secrets VERB --help` for a verb's options. Exit codes: 0 clean, 1 findings or bad input, 2 usage.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("verb", choices=VERBS, metavar="VERB", help="one of: " + ", ".join(VERBS))
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    module, _ = VERBS[options.verb]
    verb = importlib.import_module(f"ameide_secrets.cli.{module}")
    code: int = verb.main(options.arguments)
    return code
