"""The product's Vault client, on `hvac`: reads the *names* of a KV secret's fields, never keeps a value.

Address, token and TLS come from the standard variables as the `vault` CLI reads them: VAULT_ADDR,
VAULT_TOKEN, VAULT_CACERT (a CA bundle to verify the server with) and VAULT_SKIP_VERIFY.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hvac
import hvac.exceptions
import requests

from ameide_secrets.findings import InputError


class VaultUnreachableError(InputError):
    """Vault could not be asked at all (address, token, TLS, network): nothing was checked."""


@dataclass(frozen=True)
class Answer:
    """What Vault said of one path: found (200), missing (404), refused (403), or another status."""

    status: int
    fields: frozenset[str] = frozenset()
    """The field names of the secret's data (or of its custom metadata)."""


def _verify(environ: Mapping[str, str]) -> bool | str:
    if environ.get("VAULT_SKIP_VERIFY", "").lower() in {"1", "true", "yes"}:
        return False
    return environ.get("VAULT_CACERT") or True


class Vault:
    """Reads field names of KV secrets at one mount; each answer's values are dropped as soon as it is parsed."""

    def __init__(self, address: str, token: str, mount: str, kv_version: str = "v2", verify: bool | str = True) -> None:
        self.address, self.mount, self.kv_version = address.rstrip("/"), mount, kv_version
        self._client = hvac.Client(url=self.address, token=token, verify=verify, timeout=10)

    @classmethod
    def from_environment(cls, mount: str, kv_version: str, environ: Mapping[str, str] = os.environ) -> Vault:
        address, token = environ.get("VAULT_ADDR"), environ.get("VAULT_TOKEN")
        if not address or not token:
            raise VaultUnreachableError("set VAULT_ADDR and VAULT_TOKEN (a token that reads the stack's declared prefixes)")
        return cls(address, token, mount, kv_version, _verify(environ))

    def path(self, key: str, metadata: bool = False) -> str:
        """The API path a read of `key` goes to (named in findings)."""
        if self.kv_version == "v1":
            return f"{self.mount}/{key}"
        return f"{self.mount}/{'metadata' if metadata else 'data'}/{key}"

    def fields(self, key: str, version: str | None = None, metadata: bool = False) -> Answer:
        """The field names of `key` (its custom metadata's with `metadata`)."""
        kv: Any = self._client.secrets.kv
        try:
            if self.kv_version == "v1":
                document = kv.v1.read_secret(path=key, mount_point=self.mount)
                payload = document.get("data") or {}
            elif metadata:
                document = kv.v2.read_secret_metadata(path=key, mount_point=self.mount)
                payload = (document.get("data") or {}).get("custom_metadata") or {}
            else:
                document = kv.v2.read_secret_version(
                    path=key, mount_point=self.mount, version=version, raise_on_deleted_version=True
                )
                payload = (document.get("data") or {}).get("data") or {}
        except hvac.exceptions.InvalidPath:
            return Answer(404)
        except hvac.exceptions.Forbidden:
            return Answer(403)
        except hvac.exceptions.VaultError as error:
            return Answer(getattr(error, "status_code", None) or 500)
        except requests.exceptions.RequestException as error:
            # The exception names the address and the reason (TLS, refused, timeout), never a value.
            raise VaultUnreachableError(f"cannot reach Vault at {self.address}: {type(error).__name__}: {error}") from None
        return Answer(200, frozenset(payload))
