"""Check, before promoting, that every Vault key and property a stack's ExternalSecrets name exists.

    VAULT_ADDR=… VAULT_TOKEN=… python -m tools.vault_check --stack staging [--format text|json]

For each ExternalSecret the stack owns: every `data` entry's key (and its property, if it names
one) and every `data_from` key must exist in the stack's KV mount; `metadata_policy="Fetch"`
reads the key's custom metadata instead. Exit 1 listing each missing key or property with the
module, the ExternalSecret and the secretKey; exit 2 when Vault cannot be asked. The token must
read the declared prefixes (the PR preview token cannot). No value is ever printed, logged or
kept: only the names of the fields Vault returns are looked at.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from declarations import inventory
from declarations.settings import SettingsError, StackSettings
from declarations.spec import RemoteRef


@dataclass(frozen=True)
class Reference:
    """One value an ExternalSecret reads from Vault, and where it is declared."""

    module: str
    external_secret: str
    """`namespace/name`."""
    secret_key: str
    """The Secret key it fills, or `data_from[i]` for a whole-secret copy."""
    ref: RemoteRef


@dataclass(frozen=True)
class Missing:
    module: str
    external_secret: str
    secret_key: str
    key: str
    property: str | None
    problem: str

    def __str__(self) -> str:
        return f"{self.module}: ExternalSecret {self.external_secret}: {self.secret_key}: {self.problem}"


class VaultUnreachableError(Exception):
    """Vault could not be asked at all (address, token, network): nothing was checked."""


def references(stack: str) -> tuple[StackSettings, list[Reference]]:
    """The stack's settings and every Vault value its owned ExternalSecrets read."""
    settings = StackSettings.for_stack(stack)
    found = []
    for declared in inventory.owned(inventory.discover(), settings.environment):
        args = declared.args
        for spec in args.external_secrets:
            where = f"{args.namespace}/{spec.name}"
            found += [Reference(declared.module, where, f"secretKey {key!r}", ref) for key, ref in spec.data.items()]
            found += [Reference(declared.module, where, f"data_from[{i}]", ref) for i, ref in enumerate(spec.data_from)]
    return settings, found


class Vault:
    """Reads field *names* of KV secrets; the values are dropped as soon as the answer is parsed."""

    def __init__(self, address: str, token: str, timeout: float = 10) -> None:
        self.address, self.token, self.timeout = address.rstrip("/"), token, timeout

    def field_names(self, path: str) -> tuple[int, set[str]]:
        """(HTTP status, the names of the fields at `path`'s payload)."""
        request = urllib.request.Request(f"{self.address}/v1/{path}", headers={"X-Vault-Token": self.token})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                document = json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, set()
        except (urllib.error.URLError, OSError) as error:
            raise VaultUnreachableError(f"cannot reach Vault at {self.address}: {getattr(error, 'reason', error)}") from None
        return 200, set(_payload(path, document))


def _payload(path: str, document: dict[str, Any]) -> dict[str, Any]:
    data = document.get("data") or {}
    if "/metadata/" in path:
        return data.get("custom_metadata") or {}
    return data.get("data", data) if isinstance(data.get("data"), dict) else data


def _path(settings: StackSettings, ref: RemoteRef) -> str:
    mount, key = settings.vault_kv_mount, urllib.parse.quote(ref.key)
    if settings.vault_kv_version == "v1":
        return f"{mount}/{key}"
    if ref.metadata_policy == "Fetch":
        return f"{mount}/metadata/{key}"
    return f"{mount}/data/{key}" + (f"?version={urllib.parse.quote(ref.version)}" if ref.version else "")


def check(settings: StackSettings, refs: list[Reference], vault: Vault) -> Iterator[Missing]:
    """Every reference whose key or property Vault does not have (or will not show this token)."""
    answers: dict[str, tuple[int, set[str]]] = {}
    for reference in refs:
        ref, path = reference.ref, _path(settings, reference.ref)
        if path not in answers:
            answers[path] = vault.field_names(path)
        status, fields = answers[path]

        def missing(problem: str, reference: Reference = reference) -> Missing:
            r = reference
            return Missing(r.module, r.external_secret, r.secret_key, r.ref.key, r.ref.property, problem)

        shown = path.split("?")[0]
        if status == 404:
            yield missing(f"key {ref.key!r} does not exist in Vault ({shown}); write it before promoting")
        elif status == 403:
            yield missing(f"this token may not read key {ref.key!r} ({shown}): use a token that reads the declared prefixes")
        elif status != 200:
            yield missing(f"Vault answered HTTP {status} for key {ref.key!r} ({shown})")
        elif ref.property is not None and ref.property not in fields:
            where = "custom metadata" if ref.metadata_policy == "Fetch" else "secret"
            yield missing(f"key {ref.key!r} has no property {ref.property!r} in its {where}; add it, or fix the declaration")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.vault_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    options = parser.parse_args(argv)
    address, token = os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN")
    if not address or not token:
        print("set VAULT_ADDR and VAULT_TOKEN (a token that reads the stack's declared prefixes)", file=sys.stderr)
        return 2
    try:
        settings, refs = references(options.stack)
        missing = list(check(settings, refs, Vault(address, token)))
    except (inventory.DeclarationErrors, SettingsError, VaultUnreachableError) as error:
        print(error, file=sys.stderr)
        return 2
    if options.format == "json":
        print(json.dumps([asdict(m) for m in missing], indent=2))
    else:
        for item in missing:
            print(item)
        keys = len({r.ref.key for r in refs})
        print(f"{len(refs)} references to {keys} Vault keys checked in stack {options.stack}: {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
