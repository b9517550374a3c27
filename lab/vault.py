"""Vault (OpenBao) as the lab drives it, on `hvac`: raw API calls that return refusals as answers, and a
stack's Vault side applied from its plan (`Stack.vault`, the one `VaultAccess` registers).

The Pulumi Vault provider cannot be built here (docs/testing.md), so the loopback environments put on the
server what `VaultAccess` would, from the same `VaultPlan`. Setup and tests only: never the product's.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hvac
import hvac.adapters

from ameide_secrets import vocabulary
from ameide_secrets.project import Stack

# Refs without `property` read the whole secret: a seeded one gets this one field.
WHOLE_SECRET_PROPERTY = "value"
# The fields a whole-secret copy (`dataFrom`) needs for the Secret type it fills, as Kubernetes defines them.
TYPE_FIELDS = {
    "kubernetes.io/basic-auth": ["password", "username"],
    "kubernetes.io/tls": ["tls.crt", "tls.key"],
    "kubernetes.io/ssh-auth": ["ssh-privatekey"],
    "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
}


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

    @property
    def hvac(self) -> hvac.Client:
        # The raw adapter hands back the HTTP response whatever its status: refusals are what tests look at.
        return hvac.Client(
            url=self.address, token=self.token, verify=self.ca_file or True, timeout=10, adapter=hvac.adapters.RawAdapter
        )

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """`method` on `/v1/<path>`: (HTTP status, JSON body or {}). Refusals are answers, not exceptions."""
        response = self.hvac.adapter.request(method, f"v1/{path}", json=body, raise_exception=False)
        try:
            parsed = response.json() if response.content else {}
        except ValueError:
            # e.g. an HTML redirect page: the status says what happened.
            parsed = {}
        return response.status_code, parsed if isinstance(parsed, dict) else {"value": parsed}

    def ok(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
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


def apply_stack(root: VaultClient, stack: Stack, kubernetes_host: str, kubernetes_ca_pem: str) -> list[str]:
    """The stack's Vault plan on the server: kubernetes auth, the read, audit and preview policies, the namespaces'
    identities and ESO's role; the admitted namespaces. Idempotent: run again after the stack's workloads change (what
    `pulumi up` with vaultManage would do)."""
    plan = stack.vault
    mount = plan.auth_mount
    if root.request("GET", f"sys/auth/{mount}")[0] != 200:
        root.ok("POST", f"sys/auth/{mount}", {"type": "kubernetes"})
    # Vault runs outside the cluster here: no pod token to fall back on, it reviews with the presented token.
    config = {**plan.auth_config, "kubernetes_host": kubernetes_host, "kubernetes_ca_cert": kubernetes_ca_pem}
    root.ok("POST", f"auth/{mount}/config", {**config, "disable_local_ca_jwt": True})
    policies = {plan.audit_policy_name: plan.audit_policy, plan.preview_policy_name: plan.preview_policy}
    for name, hcl in {**plan.read_policies, **policies}.items():
        root.put_policy(name, hcl)
    accessor = root.ok("GET", f"sys/auth/{mount}")["data"]["accessor"]
    for identity in plan.identities:
        entity = root.ok("POST", "identity/entity", {"name": identity.entity, "policies": [identity.policy]})
        # 200 with the new entity; 204 when it existed (its policies were updated).
        entity_id = entity["data"]["id"] if entity else root.ok("GET", f"identity/entity/name/{identity.entity}")["data"]["id"]
        aliases = root.ok("GET", f"identity/entity/id/{entity_id}")["data"].get("aliases") or []
        if not any(alias["name"] == identity.alias and alias["mount_accessor"] == accessor for alias in aliases):
            root.ok(
                "POST", "identity/entity-alias", {"name": identity.alias, "mount_accessor": accessor, "canonical_id": entity_id}
            )
    root.ok("POST", f"auth/{mount}/role/{plan.role_name}", plan.role)
    return stack.namespaces


def read_properties(objects: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Vault key -> the fields the rendered ExternalSecrets read of it: each `data[].remoteRef`'s property, and
    for a `dataFrom[].extract` the fields its Secret's type needs (a basic-auth Secret: username, password)."""
    properties: dict[str, set[str]] = {}
    for obj in objects:
        if obj["kind"] != vocabulary.EXTERNAL_SECRET:
            continue
        secret_type = ((obj["spec"].get("target") or {}).get("template") or {}).get("type", vocabulary.DEFAULT_SECRET_TYPE)
        for path, kind, ref in vocabulary.vault_reads(obj["spec"]):
            # `find` would read keys nobody names: no declaration produces one, and no seeding could cover it.
            if kind == "find":
                raise ValueError(f"{obj['metadata']['name']}: {path} is not an extract")
            if kind == "extract":
                fields = TYPE_FIELDS.get(secret_type, [WHOLE_SECRET_PROPERTY])
            else:
                fields = [ref["property"]] if "property" in ref else []
            properties.setdefault(str(ref["key"]), set()).update(fields)
    return {key: sorted(names or {WHOLE_SECRET_PROPERTY}) for key, names in sorted(properties.items())}


def random_value() -> str:
    """A throwaway secret value; valid base64, as refs with decodingStrategy Base64 need."""
    return base64.b64encode(secrets.token_bytes(24)).decode()
