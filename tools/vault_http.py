"""Vault's HTTP API, standard library only, and the Vault side of a stack applied through it.

The project has no Vault client dependency: the e2e tests and `tools.testenv` speak HTTP. `apply_stack`
puts on a Vault server what `VaultAccess` would (kubernetes auth, the per-namespace read policies, the
identities and the role), from the same `vault_config` functions: the Pulumi Vault provider cannot be
built here (docs/testing.md), so the loopback environments configure Vault this way.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from declarations import inventory
from declarations.settings import StackSettings
from rendering import vault_config

# Refs without `property` (and dataFrom extracts) read the whole secret: it gets this one property.
WHOLE_SECRET_PROPERTY = "value"


class VaultError(RuntimeError):
    """An unexpected answer from the server to a setup call (the root token's calls)."""


@dataclass(frozen=True)
class VaultClient:
    """Vault's HTTP API at `address`, as `token`; `ca_file` verifies an https server."""

    address: str
    token: str = field(repr=False)
    ca_file: str | None = None

    def as_token(self, token: str) -> VaultClient:
        return VaultClient(self.address, token, self.ca_file)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """`method` on `/v1/<path>`: (HTTP status, JSON body or {}). Refusals are answers, not exceptions."""
        request = urllib.request.Request(
            f"{self.address}/v1/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Vault-Token": self.token, "Content-Type": "application/json"},
        )
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            parsed = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            # e.g. an HTML redirect page: the status says what happened.
            parsed = {}
        return status, parsed if isinstance(parsed, dict) else {"value": parsed}

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, answer = self.request(method, path, body)
        if status not in (200, 204):
            # Vault's errors name the path and the reason, never a stored value.
            raise VaultError(f"{method} /v1/{path}: HTTP {status}: {answer.get('errors')}")
        return answer

    def enable_kv2(self, mount: str) -> None:
        """A fresh, empty KV v2 engine at `mount` (the dev server pre-mounts `secret/`: replaced)."""
        self.ok("DELETE", f"sys/mounts/{mount}")  # 204 also when nothing is mounted there
        self.ok("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})

    def write_kv2(self, mount: str, key: str, data: dict[str, str]) -> None:
        self.ok("POST", f"{mount}/data/{key}", {"data": data})

    def put_policy(self, name: str, hcl: str) -> None:
        self.ok("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def create_token(self, policies: list[str]) -> str:
        """A token carrying exactly `policies`: no `default` policy, so nothing but what they grant."""
        answer = self.ok("POST", "auth/token/create", {"policies": policies, "no_default_policy": True, "ttl": "15m"})
        token: str = answer["auth"]["client_token"]
        return token


def apply_stack(
    root: VaultClient,
    settings: StackSettings,
    owned: list[inventory.DeclaredWorkload],
    kubernetes_host: str,
    kubernetes_ca_pem: str,
) -> list[str]:
    """The stack's kubernetes auth, per-namespace policies, identities and role on the server; the admitted namespaces.

    Idempotent: run again after the stack's workloads change (what `pulumi up` with vaultManage would do).
    """
    namespaces = inventory.namespaces(owned)
    mount = settings.vault_auth_mount
    if root.request("GET", f"sys/auth/{mount}")[0] != 200:
        root.ok("POST", f"sys/auth/{mount}", {"type": "kubernetes"})
    config = {**vault_config.auth_backend_config(settings), "kubernetes_host": kubernetes_host}
    # Vault runs outside the cluster here: no pod token to fall back on, it reviews with the presented token.
    root.ok("POST", f"auth/{mount}/config", {**config, "kubernetes_ca_cert": kubernetes_ca_pem, "disable_local_ca_jwt": True})
    for name, hcl in vault_config.read_policies(settings, namespaces, inventory.grants(owned)).items():
        root.put_policy(name, hcl)
    accessor = root.ok("GET", f"sys/auth/{mount}")["data"]["accessor"]
    for identity in vault_config.identities(settings, namespaces):
        entity = root.ok("POST", "identity/entity", {"name": identity.entity, "policies": [identity.policy]})
        # 200 with the new entity; 204 when it existed (its policies were updated).
        entity_id = entity["data"]["id"] if entity else root.ok("GET", f"identity/entity/name/{identity.entity}")["data"]["id"]
        aliases = root.ok("GET", f"identity/entity/id/{entity_id}")["data"].get("aliases") or []
        if not any(alias["name"] == identity.alias and alias["mount_accessor"] == accessor for alias in aliases):
            root.ok(
                "POST", "identity/entity-alias", {"name": identity.alias, "mount_accessor": accessor, "canonical_id": entity_id}
            )
    role = vault_config.role(settings, namespaces)
    root.ok("POST", f"auth/{mount}/role/{role.pop('role_name')}", role)
    return namespaces


def read_properties(objects: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Vault key -> the properties the rendered ExternalSecrets read of it (`data[].remoteRef`, `dataFrom[].extract`)."""
    properties: dict[str, set[str]] = {}
    for obj in objects:
        if obj["kind"] != "ExternalSecret":
            continue
        refs = [item["remoteRef"] for item in obj["spec"].get("data", [])]
        for item in obj["spec"].get("dataFrom", []):
            # `find` would read keys nobody names: no declaration produces one, and no seeding could cover it.
            if set(item) != {"extract"}:
                raise ValueError(f"{obj['metadata']['name']}: dataFrom {sorted(item)} is not an extract")
            refs.append(item["extract"])
        for ref in refs:
            properties.setdefault(ref["key"], set()).update([ref["property"]] if "property" in ref else [])
    return {key: sorted(names or {WHOLE_SECRET_PROPERTY}) for key, names in sorted(properties.items())}


def random_value() -> str:
    """A throwaway secret value; valid base64, as refs with decodingStrategy Base64 need."""
    return base64.b64encode(secrets.token_bytes(24)).decode()
