"""`ameide-secrets vault-check --stack S`: every Vault key and property the stack reads exists (names only).

    VAULT_ADDR=… VAULT_TOKEN=… ameide-secrets vault-check --stack staging [--format text|json]

Vault's address, token and TLS come from VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT and VAULT_SKIP_VERIFY, as
the `vault` CLI reads them. Exit 1 listing each missing key or property with the module, the
ExternalSecret and the secretKey, or when Vault cannot be asked. No value is ever printed.
"""

from __future__ import annotations

import argparse

from ameide_secrets.checks import vault_keys
from ameide_secrets.cli import output
from ameide_secrets.clients.vault import Vault
from ameide_secrets.findings import report


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("vault-check", __doc__)
    output.add_stack(parser)
    output.add_format(parser)
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        stack = output.stack(options)
        refs = vault_keys.references(stack)
        vault = Vault.from_environment(stack.settings.vault_kv_mount, stack.settings.vault_kv_version)
        missing = list(vault_keys.check(refs, vault))
    if failed:
        return output.INVALID
    code = report(missing, options.format)
    if options.format == "text":
        keys = len({r.ref.key for r in refs})
        print(f"{len(refs)} references to {keys} Vault keys checked in stack {options.stack}: {len(missing)} missing")
    return code
