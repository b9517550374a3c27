"""rendering/vault_plan.py's ACL policy, enforced by a real Vault-API engine (OpenBao).

For each real stack: its KV mount seeded with canaries under every key its ExternalSecrets read and
under keys next to them, the policy the program generates put, and a token carrying only that
policy. What the token may do is what ESO may do. Assertion messages name keys, never values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ameide_secrets.render import vault_plan
from lab.vault import VaultClient

from .conftest import UNDECLARED, SeededStack
from .openbao import DevServer

REFUSED = 403


def test_declared_key_when_read_with_policy_token_then_returns_seeded_properties(seeded_stack: SeededStack) -> None:
    wrong = []
    for key, seeded in seeded_stack.declared.items():
        status, answer = seeded_stack.reader.request("GET", f"{seeded_stack.mount}/data/{key}")
        if status != 200 or (answer.get("data") or {}).get("data") != seeded:
            wrong.append((key, status))
    assert not wrong, f"declared keys the policy token cannot read as seeded (key, HTTP status): {wrong}"


@pytest.mark.parametrize("kind", ["undeclared prefix", "sibling without slash", "prefix as a key"])
def test_outside_key_when_read_with_policy_token_then_refused(seeded_stack: SeededStack, kind: str) -> None:
    answers = {key: seeded_stack.reader.request("GET", f"{seeded_stack.mount}/data/{key}") for key in seeded_stack.outside[kind]}
    readable = sorted((key, status) for key, (status, answer) in answers.items() if status != REFUSED or "data" in answer)
    assert not readable, f"{kind}: keys outside every grant not refused (key, HTTP status): {readable}"


@pytest.mark.parametrize(
    ("climb", "status"),
    [
        # The engine redirects (307) to the cleaned path, which the policy then refuses; a client follows.
        ("../", REFUSED),
        # Encoded dots: the engine rejects them as a relative path (400); a client that decodes them first
        # (requests does, for unreserved characters) sends `../`, refused as above.
        ("%2e%2e/", (400, REFUSED)),
    ],
    ids=["dot-dot", "encoded dot-dot"],
)
def test_declared_prefix_when_path_climbs_out_of_it_then_refused(
    seeded_stack: SeededStack, climb: str, status: int | tuple[int, ...]
) -> None:
    prefixes = sorted({grant.prefix for grant in seeded_stack.grants})
    answers = {p: seeded_stack.reader.request("GET", f"{seeded_stack.mount}/data/{p}{climb}{UNDECLARED}") for p in prefixes}
    expected = status if isinstance(status, tuple) else (status,)
    wrong = sorted((p, got) for p, (got, answer) in answers.items() if got not in expected or "data" in answer)
    assert not wrong, f"{climb}{UNDECLARED} from a declared prefix not answered {status} (prefix, HTTP status): {wrong}"


@pytest.mark.parametrize(
    ("method", "endpoint", "body"),
    [
        ("POST", "data", {"data": {"value": "overwritten"}}),
        ("DELETE", "data", None),
        ("POST", "delete", {"versions": [1]}),
        ("POST", "destroy", {"versions": [1]}),
        ("DELETE", "metadata", None),
    ],
    ids=["write", "delete latest", "delete version", "destroy version", "delete all versions"],
)
def test_declared_key_when_changed_with_policy_token_then_refused(
    seeded_stack: SeededStack, method: str, endpoint: str, body: dict[str, Any] | None
) -> None:
    answers = {
        key: seeded_stack.reader.request(method, f"{seeded_stack.mount}/{endpoint}/{key}", body) for key in seeded_stack.declared
    }
    allowed = sorted((key, status) for key, (status, _) in answers.items() if status != REFUSED)
    assert not allowed, f"{method} {endpoint}/<key> not refused (key, HTTP status): {allowed}"


@pytest.mark.parametrize("where", ["mount", "declared prefix"])
def test_keys_when_listed_with_policy_token_then_refused(seeded_stack: SeededStack, where: str) -> None:
    folders = [""] if where == "mount" else sorted({grant.prefix for grant in seeded_stack.grants})
    answers = {folder: seeded_stack.reader.request("LIST", f"{seeded_stack.mount}/metadata/{folder}") for folder in folders}
    listed = sorted((folder, status) for folder, (status, _) in answers.items() if status != REFUSED)
    assert not listed, f"LIST {seeded_stack.mount}/metadata/<folder> not refused (folder, HTTP status): {listed}"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "auth/token/create", {}),
        # Its own policy: a token that could rewrite it could grant itself anything.
        ("PUT", "sys/policies/acl/{policy}", {"policy": 'path "*" {\n  capabilities = ["read", "list"]\n}\n'}),
        ("GET", "sys/policies/acl/{policy}", None),
        ("GET", "sys/mounts", None),
    ],
    ids=["create token", "rewrite own policy", "read own policy", "read mounts"],
)
def test_privileged_endpoint_when_called_with_policy_token_then_refused(
    seeded_stack: SeededStack, method: str, path: str, body: dict[str, Any] | None
) -> None:
    status, _ = seeded_stack.reader.request(method, path.format(policy=vault_plan.policy_name(seeded_stack.settings)), body)
    assert status == REFUSED


@pytest.mark.parametrize("fetching", ["as declared", "first workload fetches metadata"])
def test_metadata_when_read_with_policy_token_then_readable_only_under_fetching_prefixes(
    seeded_stack: SeededStack, fetching: str
) -> None:
    grants = seeded_stack.grants
    reader = seeded_stack.reader
    if fetching != "as declared":
        # No real workload fetches metadata yet: flip one grant to see the engine honour the metadata rule.
        grants = [dataclasses.replace(grants[0], fetch_metadata=True), *grants[1:]]
        name = f"{vault_plan.policy_name(seeded_stack.settings)}-metadata"
        seeded_stack.root.put_policy(name, vault_plan.acl_policy(seeded_stack.settings, grants))
        reader = seeded_stack.root.as_token(seeded_stack.root.create_token([name]))
    fetching_prefixes = tuple(grant.prefix for grant in grants if grant.fetch_metadata)
    keys = [*seeded_stack.declared, *(key for keys in seeded_stack.outside.values() for key in keys)]
    answers = {key: reader.request("GET", f"{seeded_stack.mount}/metadata/{key}")[0] for key in keys}
    expected = {key: 200 if key.startswith(fetching_prefixes) else REFUSED for key in keys}
    wrong = sorted((key, status, expected[key]) for key, status in answers.items() if status != expected[key])
    assert not wrong, f"metadata reads answered otherwise than the grants say (key, HTTP status, expected): {wrong}"


def test_policy_when_put_then_engine_stores_it_unchanged(seeded_stack: SeededStack) -> None:
    # Pulumi's vault.Policy compares this text: any rewrite by the engine would be a diff on every preview.
    name = vault_plan.policy_name(seeded_stack.settings)
    status, answer = seeded_stack.root.request("GET", f"sys/policies/acl/{name}")
    assert status == 200
    assert answer["data"]["name"] == name
    assert answer["data"]["policy"] == seeded_stack.policy


@pytest.fixture(scope="module")
def auditor(seeded_stack: SeededStack) -> VaultClient:
    """A token with only the stack's audit policy: what `vault-check --max-age` runs with."""
    name = vault_plan.audit_policy_name(seeded_stack.settings)
    seeded_stack.root.put_policy(name, vault_plan.audit_policy(seeded_stack.settings, seeded_stack.grants))
    return seeded_stack.root.as_token(seeded_stack.root.create_token([name]))


def test_audit_token_when_reading_declared_keys_then_their_metadata_and_listings_never_a_value(
    seeded_stack: SeededStack, auditor: VaultClient
) -> None:
    mount, prefixes = seeded_stack.mount, sorted({grant.prefix for grant in seeded_stack.grants})
    wrong = [
        (f"{method} {path}", status, expected)
        for key in seeded_stack.declared
        for method, path, expected in (("GET", f"{mount}/metadata/{key}", 200), ("GET", f"{mount}/data/{key}", REFUSED))
        if (status := auditor.request(method, path)[0]) != expected
    ]
    wrong += [
        (f"LIST {mount}/metadata/{p}", s, 200)
        for p in prefixes
        if (s := auditor.request("LIST", f"{mount}/metadata/{p}")[0]) != 200
    ]
    assert not wrong, f"audit token answered otherwise than its policy says (request, HTTP status, expected): {wrong}"


@pytest.mark.parametrize(
    ("method", "where"),
    [("GET", "outside metadata"), ("LIST", "mount root"), ("POST", "data"), ("DELETE", "metadata"), ("POST", "destroy")],
)
def test_audit_token_when_outside_its_metadata_or_writing_then_refused(
    seeded_stack: SeededStack, auditor: VaultClient, method: str, where: str
) -> None:
    mount = seeded_stack.mount
    keys = (
        [k for keys in seeded_stack.outside.values() for k in keys]
        if where == "outside metadata"
        else list(seeded_stack.declared)
    )
    paths = {
        "outside metadata": [f"{mount}/metadata/{k}" for k in keys],
        "mount root": [f"{mount}/metadata/"],
        "data": [f"{mount}/data/{k}" for k in keys],
        "metadata": [f"{mount}/metadata/{k}" for k in keys],
        "destroy": [f"{mount}/destroy/{k}" for k in keys],
    }[where]
    body = {"POST": {"data": {"value": "x"}, "versions": [1]}}.get(method)
    allowed = sorted((path, status) for path in paths if (status := auditor.request(method, path, body)[0]) != REFUSED)
    assert not allowed, f"{method} {where} not refused to the audit token (path, HTTP status): {allowed}"


# Last in the module: by then every read, refusal and policy call above has had its chance to log.
def test_canaries_when_stack_checked_then_in_neither_server_log_nor_policy(seeded_stack: SeededStack, openbao: DevServer) -> None:
    log = openbao.log()
    in_log = sorted(name for name, value in seeded_stack.canaries().items() if value in log)
    in_policy = sorted(name for name, value in seeded_stack.canaries().items() if value in seeded_stack.policy)
    assert not in_log, f"seeded values of these keys appear in the server log: {in_log}"
    assert not in_policy, f"seeded values of these keys appear in the generated policy: {in_policy}"
