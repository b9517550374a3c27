"""The product's Vault client, on `hvac`: reads the *names* of a KV secret's fields, and from KV v2 metadata
when a version was written; never keeps a value.

Address, token and TLS come from the standard variables as the `vault` CLI reads them: VAULT_ADDR,
VAULT_TOKEN, VAULT_CACERT (a CA bundle to verify the server with) and VAULT_SKIP_VERIFY.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
class Written:
    """What KV v2 metadata says of the version a read gets: which one, when it was written, whether it is readable."""

    status: int
    version: str | None = None
    at: datetime | None = None
    """When the version was created (for custom metadata: when the metadata was last written)."""
    readable: bool = True
    """False once the version is deleted or destroyed: ESO then reads nothing."""


def _time(value: Any) -> datetime | None:
    # Vault writes RFC 3339 with nanoseconds; Python keeps microseconds. "" (never deleted) is no time.
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


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

    def _ask(self, read: Callable[[Any], Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, the answer's `data`) of one read; refusals are statuses, an unreachable Vault an error."""
        try:
            document = read(self._client)
        except hvac.exceptions.InvalidPath:
            return 404, {}
        except hvac.exceptions.Forbidden:
            return 403, {}
        except hvac.exceptions.VaultError as error:
            return getattr(error, "status_code", None) or 500, {}
        except requests.exceptions.RequestException as error:
            # The exception names the address and the reason (TLS, refused, timeout), never a value.
            raise VaultUnreachableError(f"cannot reach Vault at {self.address}: {type(error).__name__}: {error}") from None
        if document is None:
            return 404, {}  # hvac's generic read answers a missing path so
        return 200, document.get("data") or {}

    def fields(self, key: str, version: str | None = None, metadata: bool = False) -> Answer:
        """The field names of `key` (its custom metadata's with `metadata`)."""
        mount = self.mount
        if self.kv_version == "v1":
            status, payload = self._ask(lambda client: client.secrets.kv.v1.read_secret(path=key, mount_point=mount))
        elif metadata:
            status, data = self._ask(lambda client: client.secrets.kv.v2.read_secret_metadata(path=key, mount_point=mount))
            payload = data.get("custom_metadata") or {}
        else:
            status, data = self._ask(
                lambda client: client.secrets.kv.v2.read_secret_version(
                    path=key, mount_point=mount, version=version, raise_on_deleted_version=True
                )
            )
            payload = data.get("data") or {}
        return Answer(status, frozenset(payload) if status == 200 else frozenset())

    def configuration(self, path: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, `data`) of one configuration path outside the KV mount: an auth mount's config, a role,
        a policy, an entity (checks/vault_identity.py). These hold names and settings, no secret value."""
        return self._ask(lambda client: client.read(path))

    def written(self, key: str, version: str | None = None, metadata: bool = False, now: datetime | None = None) -> Written:
        """When the version of `key` a read gets (`version`, else the current one) was written, from the KV v2
        metadata path alone (a token with the audit policy suffices); with `metadata`, when the custom metadata was."""
        if self.kv_version == "v1":
            raise InputError(f"the KV v1 mount {self.mount!r} keeps no versions or times: ages need a KV v2 mount")
        mount = self.mount
        status, data = self._ask(lambda client: client.secrets.kv.v2.read_secret_metadata(path=key, mount_point=mount))
        if status != 200:
            return Written(status)
        if metadata:
            return Written(200, None, _time(data.get("updated_time")))
        number = version or str(data.get("current_version"))
        found = (data.get("versions") or {}).get(number)
        if found is None:
            return Written(404, number)
        # A version deletes itself at `deletion_time` when the key has `delete_version_after`: only a past one counts.
        deleted = _time(found.get("deletion_time"))
        gone = bool(found.get("destroyed")) or (deleted is not None and deleted <= (now or datetime.now(deleted.tzinfo)))
        return Written(200, number, _time(found.get("created_time")), readable=not gone)
