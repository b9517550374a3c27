"""Pure functions: Vault's side of the platform's access, from declarations and settings.

The kubernetes auth backend ESO logs in through, the role it logs in with, and read-only ACL
policies: `read` on exactly the declared key prefixes of the KV mount; beside them the PR preview's
policy (this configuration, no KV path) and the audit policy (KV v2 metadata of the declared prefixes,
no value), which `vault-check --max-age` needs. `VaultAccess` registers these; tests read them without
a Vault, and on a real OpenBao (tests/e2e).

Vault keeps namespaces apart by itself (`authMode: referent`, the default): ESO logs in as the
service account `reviewerServiceAccount` *of the ExternalSecret's namespace*; the role names the
login's alias `<namespace>/<account>` (`alias_name_source: serviceaccount_name`), each admitted
namespace has an identity entity owning that alias, and the entity carries the read policy of
that namespace's workloads only. The role itself grants nothing. So an ExternalSecret in namespace
A that names a key of namespace B is refused by Vault, admission policies or not. In `shared` mode
ESO has one identity, and only admission keeps namespaces apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ameide_secrets.declare.inventory import Grant
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.render.manifests import reviewer_namespaces
from ameide_secrets.rules import tenancy

# ESO logs in again when its token expires; a short life bounds what a leaked token can do.
TOKEN_TTL_SECONDS = 600
TOKEN_MAX_TTL_SECONDS = 1200


def policy_name(settings: StackSettings) -> str:
    """`shared` mode: the one ACL policy ESO's role carries, named after the store it serves."""
    return f"{settings.store_name}-read"


def namespace_policy_name(settings: StackSettings, namespace: str) -> str:
    """`referent` mode: the ACL policy of one admitted namespace's workloads."""
    return f"{settings.store_name}-read-{namespace}"


@dataclass(frozen=True)
class NamespaceIdentity:
    """`referent` mode: the Vault identity ESO logs in as for one admitted namespace."""

    namespace: str
    entity: str
    """Identity entity name."""
    alias: str
    """The login's alias on the kubernetes auth mount: `<namespace>/<service account>`."""
    policy: str
    """Name of the entity's (only) policy."""


def identities(settings: StackSettings, namespaces: Sequence[str]) -> list[NamespaceIdentity]:
    """One identity per admitted namespace in `referent` mode; none in `shared` mode."""
    if settings.auth_mode != "referent":
        return []
    return [
        NamespaceIdentity(
            namespace=namespace,
            entity=f"{settings.store_name}-{namespace}",
            alias=f"{namespace}/{settings.reviewer_service_account}",
            policy=namespace_policy_name(settings, namespace),
        )
        for namespace in sorted(set(namespaces))
    ]


def read_policies(settings: StackSettings, namespaces: Sequence[str], grants: Sequence[Grant]) -> dict[str, str]:
    """Name -> HCL of every read policy: one per admitted namespace (referent), or one for all (shared)."""
    if settings.auth_mode != "referent":
        return {policy_name(settings): acl_policy(settings, grants)}
    return {
        identity.policy: acl_policy(settings, [g for g in grants if g.namespace == identity.namespace])
        for identity in identities(settings, namespaces)
    }


def _path_rule(path: str, modules: Sequence[str], capabilities: Sequence[str] = ("read",)) -> str:
    declared = "".join(f"# {module}\n" for module in sorted(set(modules)))
    # JSON string escapes are HCL string escapes; prefixes are plain path segments (declare/contract.py).
    return f"{declared}path {json.dumps(path)} {{\n  capabilities = {json.dumps(list(capabilities))}\n}}\n"


def _prefixes(settings: StackSettings, grants: Sequence[Grant]) -> dict[str, list[str]]:
    """Declared prefix -> the modules declaring it; refuses a prefix that must never reach a Vault policy."""
    found: dict[str, list[str]] = {}
    for grant in grants:
        # Discovery refuses these first; a non-canonical prefix must never reach a Vault policy.
        if problem := tenancy.vault_path_problem(grant.prefix, [settings.vault_kv_mount], prefix=True):
            raise ValueError(f"{grant.module}: key prefix {problem}")
        found.setdefault(grant.prefix, []).append(grant.module)
    return found


def acl_policy(settings: StackSettings, grants: Sequence[Grant]) -> str:
    """HCL granting `read` on exactly the declared prefixes, and on their KV v2 metadata only where a workload fetches it."""
    mount = settings.vault_kv_mount
    data = _prefixes(settings, grants)
    # KV v1 has no metadata endpoint: a v1 mount gets no metadata rule.
    fetching = [grant for grant in grants if grant.fetch_metadata and settings.vault_kv_version == "v2"]
    metadata = _prefixes(settings, fetching)
    # No `list` and no write: ESO only reads named keys (no declaration can `find`).
    data_root = f"{mount}/data" if settings.vault_kv_version == "v2" else mount
    rules = [_path_rule(f"{data_root}/{prefix}*", modules) for prefix, modules in sorted(data.items())]
    rules += [_path_rule(f"{mount}/metadata/{prefix}*", modules) for prefix, modules in sorted(metadata.items())]
    header = (
        "# Managed by ameide-secrets: what ESO may read through the platform store.\n"
        "# Generated from workloads/<team>/<workload>.py; edit the declarations, not this policy.\n"
    )
    return header + "".join(f"\n{rule}" for rule in rules)


def audit_policy_name(settings: StackSettings) -> str:
    """The ACL policy of the token `vault-check --max-age` runs with."""
    return f"{settings.store_name}-audit"


def audit_policy(settings: StackSettings, grants: Sequence[Grant]) -> str:
    """HCL for `vault-check --max-age`: `list` and `read` on the KV v2 metadata of every declared prefix (versions
    and their times), nothing under `data/`, so the token that audits ages can read no value. KV v1 keeps no
    metadata: there it grants nothing."""
    mount = settings.vault_kv_mount
    prefixes = _prefixes(settings, grants) if settings.vault_kv_version == "v2" else {}
    rules = [_path_rule(f"{mount}/metadata/{prefix}*", modules, ["list", "read"]) for prefix, modules in sorted(prefixes.items())]
    header = (
        "# Managed by ameide-secrets: what `ameide-secrets vault-check --max-age` may read in Vault.\n"
        "# KV v2 metadata of the declared prefixes only (versions and when they were written); no data/ path, no write.\n"
    )
    return header + "".join(f"\n{rule}" for rule in rules)


def auth_backend_config(settings: StackSettings) -> dict[str, Any]:
    """Where Vault's kubernetes auth reaches the API server to review ESO's tokens."""
    config: dict[str, Any] = {"kubernetes_host": settings.vault_kubernetes_host}
    if settings.vault_kubernetes_ca_cert is not None:
        config["kubernetes_ca_cert"] = settings.vault_kubernetes_ca_cert
    return config


def role(settings: StackSettings, namespaces: Sequence[str]) -> dict[str, Any]:
    """The role ESO logs in with: bound to exactly the identity the store presents, where it lives.

    No default policy and a short TTL. In `referent` mode the role grants no policy itself: the
    namespace's entity does, found by the login's alias `<namespace>/<account>`.
    """
    referent = settings.auth_mode == "referent"
    args: dict[str, Any] = {
        "role_name": settings.vault_role,
        "bound_service_account_names": [settings.reviewer_service_account],
        "bound_service_account_namespaces": reviewer_namespaces(settings, namespaces),
        "token_policies": [] if referent else [policy_name(settings)],
        "token_no_default_policy": True,
        "token_ttl": TOKEN_TTL_SECONDS,
        "token_max_ttl": TOKEN_MAX_TTL_SECONDS,
    }
    if referent:
        args["alias_name_source"] = "serviceaccount_name"
    if settings.vault_audience is not None:
        args["audience"] = settings.vault_audience
    return args


def preview_policy_name(settings: StackSettings) -> str:
    """The ACL policy of the token PR previews use."""
    return f"{settings.store_name}-preview"


def preview_policy(settings: StackSettings, namespaces: Sequence[str]) -> str:
    """HCL for `pulumi preview` of VaultAccess: read this program's Vault configuration, nothing else.

    No path under the KV mount (a preview never needs a value), no write, no `auth/token/create`
    (the preview's Vault provider runs with `skipChildToken`).
    """
    auth = settings.vault_auth_mount
    managed = [*(i.policy for i in identities(settings, namespaces))] or [policy_name(settings)]
    policies = [*managed, audit_policy_name(settings), preview_policy_name(settings)]
    paths = [
        # The auth mount: pulumi-vault's AuthBackend reads it, its listing and its tuning.
        "sys/auth",
        f"sys/auth/{auth}",
        f"sys/mounts/auth/{auth}/tune",
        f"auth/{auth}/config",
        f"auth/{auth}/role/{settings.vault_role}",
        # Both API spellings of a policy, for each policy this program manages.
        *(f"sys/policy/{name}" for name in policies),
        *(f"sys/policies/acl/{name}" for name in policies),
        # The namespaces' identities (referent mode): entities by name, and by the ids Pulumi stores.
        *(f"identity/entity/name/{i.entity}" for i in identities(settings, namespaces)),
        *(["identity/entity/id/*", "identity/entity-alias/id/*"] if identities(settings, namespaces) else []),
        # The provider looks its own token up when it starts.
        "auth/token/lookup-self",
    ]
    # Vault guards GET sys/auth/<mount> as a root path: reading it needs `sudo` beside `read` (seen
    # on OpenBao). With no other capability, sudo there still reads only that mount's settings.
    capabilities = {f"sys/auth/{auth}": ["read", "sudo"]}
    header = (
        "# Managed by ameide-secrets: what a pull request's `pulumi preview` may read in Vault.\n"
        "# No KV path: previews never read a secret value. No write, no token creation.\n"
    )
    return header + "".join(
        f"\npath {json.dumps(path)} {{\n  capabilities = {json.dumps(capabilities.get(path, ['read']))}\n}}\n" for path in paths
    )


AUTH_DESCRIPTION = "Kubernetes service accounts; ESO logs in here (managed by ameide-secrets)"


@dataclass(frozen=True)
class VaultPlan:
    """Everything Vault must hold for one stack, computed once: `VaultAccess` registers it with the Vault
    provider, and the loopback environments (which cannot build that provider) apply it over HTTP."""

    auth_mount: str
    auth_config: dict[str, Any]
    read_policies: dict[str, str]
    """Name -> HCL of every read policy."""
    identities: list[NamespaceIdentity]
    preview_policy_name: str
    preview_policy: str
    audit_policy_name: str
    audit_policy: str
    """HCL of the token `vault-check --max-age` runs with: KV v2 metadata of the declared prefixes, no value."""
    role_name: str
    role: dict[str, Any]
    """The role's settings, without its name (pulumi-vault's AuthBackendRole arguments)."""
    protect: bool


def plan(settings: StackSettings, namespaces: Sequence[str], grants: Sequence[Grant]) -> VaultPlan:
    role_args = role(settings, namespaces)
    return VaultPlan(
        auth_mount=settings.vault_auth_mount,
        auth_config=auth_backend_config(settings),
        read_policies=read_policies(settings, namespaces, grants),
        identities=identities(settings, namespaces),
        preview_policy_name=preview_policy_name(settings),
        preview_policy=preview_policy(settings, namespaces),
        audit_policy_name=audit_policy_name(settings),
        audit_policy=audit_policy(settings, grants),
        role_name=role_args.pop("role_name"),
        role=role_args,
        protect=settings.protect,
    )
