"""ESO's Vault login as Vault holds it, against the stack's plan: the auth mount and its config, ESO's role, the
read policies and, in `referent` mode, each admitted namespace's entity.

When every ExternalSecret fails at once ("invalid role name", "permission denied"), this says which piece is
gone or changed, one line each. It reads configuration only, exactly the paths the stack's preview policy grants
(render/vault_plan.py), so the PR preview token runs it; no KV path, so no value. When Vault's side matches, a
refused login is Kubernetes' (the TokenReview Vault makes): `hint` names the objects to look at.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ameide_secrets.findings import Finding
from ameide_secrets.render.vault_plan import VaultPlan


class ConfigReader(Protocol):
    def configuration(self, path: str) -> tuple[int, dict[str, Any]]: ...


def _same(held: Any, declared: Any) -> bool:
    # Vault answers lists in its own order, and an unset optional string as "".
    if isinstance(declared, list):
        return isinstance(held, list) and sorted(map(str, held)) == sorted(map(str, declared))
    return bool(held == declared)


def _difference(name: str, held: Any, declared: Any) -> str:
    # A CA certificate is long: name the difference, not the PEM.
    shown = [repr(held), repr(declared)]
    if any(len(text) > 80 or "\\n" in text for text in shown):
        return f"{name} differs from the stack's"
    return f"{name} is {shown[0]}, the stack declares {shown[1]}"


def _differences(held: dict[str, Any], declared: dict[str, Any]) -> list[str]:
    return [_difference(name, held.get(name), value) for name, value in declared.items() if not _same(held.get(name), value)]


def check(plan: VaultPlan, vault: ConfigReader, stack: str, managed: bool) -> Iterator[Finding]:
    """Each piece of ESO's login that Vault lacks, refuses to show, or holds otherwise than `plan` declares;
    `managed`: the stack's `vaultManage`, which says who puts a piece back."""
    restore = (
        f"`pulumi up --refresh -s {stack}` restores it (VaultAccess owns it)"
        if managed
        else "re-apply the stack's Vault side with the platform's tooling (vaultManage is off: this program does not write Vault)"
    )
    auth = f"auth/{plan.auth_mount}"

    def read(path: str, what: str, without: str) -> tuple[dict[str, Any] | None, Finding | None]:
        """The path's data, or the finding that says why there is none (`without`: what ESO then suffers)."""
        status, data = vault.configuration(path)
        if status == 200:
            return data, None
        if status == 403:
            problem = f"this token may not read {what}: use a token with the stack's preview policy {plan.preview_policy_name!r}"
        elif status == 404:
            problem = f"{what} does not exist: {without}; {restore}"
        else:
            problem = f"Vault answered HTTP {status} for {what}"
        return None, Finding(problem, object=f"Vault {path}")

    def verdict(path: str, missing: Finding | None, differences: list[str], consequence: str) -> list[Finding]:
        if missing or not differences:
            return [missing] if missing else []
        return [Finding(f"{'; '.join(differences)}: {consequence}; {restore}", object=f"Vault {path}")]

    found: list[Finding] = []
    path = f"{auth}/config"
    config, missing = read(path, f"the kubernetes auth mount {plan.auth_mount!r} or its config", "no login of ESO can succeed")
    found += verdict(path, missing, _differences(config or {}, plan.auth_config), "Vault cannot review ESO's tokens")
    path = f"{auth}/role/{plan.role_name}"
    role, missing = read(path, f"ESO's role {plan.role_name!r}", "every login of ESO fails with 'invalid role name'")
    found += verdict(path, missing, _differences(role or {}, plan.role), "ESO's logins are refused or get other rights")
    for name, hcl in sorted(plan.read_policies.items()):
        path = f"sys/policies/acl/{name}"
        policy, missing = read(path, f"the read policy {name!r}", "ESO logs in and is refused every key")
        differs = ["the policy differs from the declarations"] if (policy or {}).get("policy") != hcl else []
        found += verdict(path, missing, differs, "ESO is refused keys they read, or reads others")
    for identity in plan.identities:
        path, what = f"identity/entity/name/{identity.entity}", f"namespace {identity.namespace!r}"
        entity, missing = read(path, f"the entity of {what}", f"ESO's logins for {what} get no policy")
        entity = entity or {}
        differs = (
            [] if identity.policy in (entity.get("policies") or []) else [f"the entity lacks the policy {identity.policy!r}"]
        )
        if not any(a.get("name") == identity.alias and a.get("mount_path") == f"{auth}/" for a in entity.get("aliases") or []):
            differs.append(f"the entity has no alias {identity.alias!r} on {auth}/")
        found += verdict(path, missing, differs, f"ESO reads nothing for {what}")
    yield from found


def hint(stack: str, bindings: Sequence[str]) -> str:
    """The one line for a clean check: where a refused login comes from when Vault's side is right."""
    where = (
        f"the ClusterRoleBinding {', '.join(bindings)} (system:auth-delegator for ESO's identity), which `pulumi up --refresh -s {stack}` restores"
        if bindings
        else "the TokenReview Vault's own service account makes"
    )
    return f"Vault holds ESO's login as stack {stack} declares it; if logins are still refused, the refusal is Kubernetes': check {where}"
