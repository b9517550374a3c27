"""rendering/vault_plan.py's preview policy on a real OpenBao: a PR preview's Vault token reads
this program's Vault configuration and nothing else — no secret, no write, no token.

The stack's Vault side is set up as `VaultAccess` would (kubernetes auth mount, its config, ESO's
role and both policies), its KV mount seeded (the `seeded_stack` fixture); then a token carrying
only the preview policy, without Vault's default policy, is tried against all of it.
"""

from __future__ import annotations

import pytest

from ameide_secrets.render import vault_plan
from lab.vault import VaultClient

from .conftest import SeededStack

REFUSED = 403


@pytest.fixture(scope="module")
def preview(seeded_stack: SeededStack, vault_side: list[str]) -> VaultClient:
    """A token with only the preview policy, on the stack's Vault side as VaultAccess sets it up."""
    settings, root = seeded_stack.settings, seeded_stack.root
    root.put_policy(vault_plan.preview_policy_name(settings), vault_plan.preview_policy(settings, vault_side))
    return root.as_token(root.create_token([vault_plan.preview_policy_name(settings)]))


def test_preview_token_when_reading_configuration_then_everything_preview_needs_is_readable(
    seeded_stack: SeededStack, preview: VaultClient, vault_side: list[str]
) -> None:
    settings = seeded_stack.settings
    mount = settings.vault_auth_mount
    identities = vault_plan.identities(settings, vault_side)
    entity_id = seeded_stack.root.request("GET", f"identity/entity/name/{identities[0].entity}")[1]["data"]["id"]
    paths = [
        *(f"sys/policies/acl/{i.policy}" for i in identities),
        *(f"identity/entity/name/{i.entity}" for i in identities),
        f"identity/entity/id/{entity_id}",
        "sys/auth",
        f"sys/auth/{mount}",
        f"sys/mounts/auth/{mount}/tune",
        f"auth/{mount}/config",
        f"auth/{mount}/role/{settings.vault_role}",
        f"sys/policies/acl/{vault_plan.preview_policy_name(settings)}",
        # The audit policy is VaultAccess's too: the preview diffs it like the others.
        f"sys/policies/acl/{vault_plan.audit_policy_name(settings)}",
        "auth/token/lookup-self",
    ]
    refused = [(path, status) for path in paths if (status := preview.request("GET", path)[0]) != 200]
    assert not refused, f"configuration the preview token cannot read (path, HTTP status): {refused}"


def test_preview_token_when_reading_any_declared_key_then_refused(seeded_stack: SeededStack, preview: VaultClient) -> None:
    mount = seeded_stack.mount
    readable = [
        (path, status)
        for key in seeded_stack.declared
        for path in (f"{mount}/data/{key}", f"{mount}/metadata/{key}")
        if (status := preview.request("GET", path)[0]) != REFUSED
    ]
    assert not readable, f"KV paths the preview token reached (path, HTTP status): {readable}"
    assert preview.request("LIST", f"{mount}/metadata")[0] == REFUSED


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "auth/token/create", {"policies": ["default"]}),
        ("POST", "auth/token/create-orphan", {}),
        ("PUT", "sys/policies/acl/{policy}", {"policy": 'path "secret/*" { capabilities = ["read"] }'}),
        ("POST", "identity/entity/name/{entity}", {"policies": ["root"]}),
        ("POST", "auth/{mount}/role/{role}", {"token_policies": ["root"]}),
        ("POST", "auth/{mount}/config", {"kubernetes_host": "https://evil.example"}),
        ("DELETE", "sys/auth/{mount}", None),
        ("POST", "{kv}/data/zz-preview/x", {"data": {"a": "b"}}),
    ],
)
def test_preview_token_when_writing_or_minting_then_refused(
    seeded_stack: SeededStack, preview: VaultClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    settings = seeded_stack.settings
    [first, *_] = vault_plan.identities(settings, ["ameide"])
    target = path.format(
        policy=first.policy,
        entity=first.entity,
        mount=settings.vault_auth_mount,
        role=settings.vault_role,
        kv=settings.vault_kv_mount,
    )
    assert preview.request(method, target, body)[0] == REFUSED
