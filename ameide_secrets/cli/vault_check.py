"""`ameide-secrets vault-check --stack S`: every Vault key and property the stack reads exists (names only); with
`--max-age`, how old the versions it reads are (metadata only).

    VAULT_ADDR=… VAULT_TOKEN=… ameide-secrets vault-check --stack staging [--format text|json]
    VAULT_ADDR=… VAULT_TOKEN=… ameide-secrets vault-check --stack staging --max-age 90d [--format text|json]
    VAULT_ADDR=… VAULT_TOKEN=… ameide-secrets vault-check --stack staging --identity [--format text|json]

Vault's address, token and TLS come from VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT and VAULT_SKIP_VERIFY, as
the `vault` CLI reads them. Exit 1 listing each missing key or property with the module, the
ExternalSecret and the secretKey, or when Vault cannot be asked. With `--max-age` it reads KV v2
metadata only (a token with the stack's audit policy is enough) and exits 1 listing, by team and
workload, each key whose version is older than the bound: the spec's `rotate_within`, else `--max-age`
(checks/key_ages.py). With `--identity` it compares ESO's login as Vault holds it (auth mount, role, read
policies, entities) with the stack's plan, reading only what the stack's preview policy grants, and exits 1
with one line per piece gone or changed (checks/vault_identity.py). No value is ever printed.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ameide_secrets.checks import key_ages, vault_identity, vault_keys
from ameide_secrets.cli import output
from ameide_secrets.clients.vault import Vault
from ameide_secrets.findings import count, report
from ameide_secrets.render import manifests
from ameide_secrets.rules import rotation


def _bound(value: str) -> str:
    if problem := rotation.duration_problem(value):
        raise argparse.ArgumentTypeError(f"{value!r} {problem}")
    return value


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("vault-check", __doc__)
    output.add_stack(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--identity",
        action="store_true",
        help="check ESO's login instead: the auth mount, role, read policies and entities Vault holds, against the stack "
        "(a token with the stack's preview policy is enough)",
    )
    mode.add_argument(
        "--max-age",
        type=_bound,
        metavar="DURATION",
        help="check ages instead, from KV v2 metadata only: a version older than this (e.g. 90d) is overdue, "
        "unless its ExternalSecretSpec sets rotate_within",
    )
    output.add_format(parser)
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        stack = output.stack(options)
        vault = Vault.from_environment(stack.settings.vault_kv_mount, stack.settings.vault_kv_version)
        if options.identity:
            found = list(vault_identity.check(stack.vault, vault, options.stack, stack.settings.vault_manage))
            bindings = [b["metadata"]["name"] for b in manifests.reviewer_bindings(stack.settings, stack.namespaces)]
            summary = (
                vault_identity.hint(options.stack, bindings)
                if not found
                else f"ESO's Vault login for stack {options.stack}: {count(found, 'piece')} gone or changed"
            )
        elif options.max_age is not None:
            reads = key_ages.reads(stack, options.max_age)
            found = list(key_ages.check(reads, vault, datetime.now(UTC)))
            summary = f"{len({r.key for r in reads})} Vault keys read by stack {options.stack} checked for age: {len(found)} overdue or unreadable"
        else:
            refs = vault_keys.references(stack)
            found = list(vault_keys.check(refs, vault))
            keys = len({r.ref.key for r in refs})
            summary = f"{len(refs)} references to {keys} Vault keys checked in stack {options.stack}: {len(found)} missing"
    if failed:
        return output.INVALID
    code = report(found, options.format)
    if options.format == "text":
        print(summary)
    return code
