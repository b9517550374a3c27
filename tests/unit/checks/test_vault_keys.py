"""checks/vault_keys.py: which references Vault cannot satisfy, judged from the field names it answers with
(the real OpenBao runs it in tests/e2e/test_vault_check.py)."""

from __future__ import annotations

import pytest

from ameide_secrets.checks import vault_keys
from ameide_secrets.clients.vault import Answer
from ameide_secrets.declare.contract import ExternalSecretSpec, RemoteRef
from ameide_secrets.declare.inventory import DeclaredWorkload
from ameide_secrets.project import Project, Stack

from helpers import overridden


class Fields:
    """Vault's answers by key: the field names each secret holds, or of its custom metadata (`custom`); a missing
    key answers 404, a key in `statuses` that status."""

    def __init__(
        self, secrets: dict[str, set[str]], custom: dict[str, set[str]] | None = None, statuses: dict[str, int] | None = None
    ) -> None:
        self.secrets, self.custom, self.statuses = secrets, custom or {}, statuses or {}

    def fields(self, key: str, version: str | None = None, metadata: bool = False) -> Answer:
        if key in self.statuses:
            return Answer(self.statuses[key])
        held = self.custom if metadata else self.secrets
        return Answer(200, frozenset(held[key])) if key in held else Answer(404)

    def path(self, key: str, metadata: bool = False) -> str:
        return f"secret/{'metadata' if metadata else 'data'}/{key}"


def verdicts(
    make_workload, data: dict[str, object], secrets: dict[str, set[str]], vault: Fields | None = None, **settings: str
) -> list[str]:
    args = make_workload(external_secrets=[ExternalSecretSpec(name="plausible-secrets", data=data, data_from=["plausible/all"])])
    project = Project()
    stack = project.stack("staging", config=overridden(project.config("staging"), settings))
    stack = Stack(project, "staging", stack.config, stack.settings, (DeclaredWorkload(args, "workloads/analytics/plausible.py"),))
    return [f.message for f in vault_keys.check(vault_keys.references(stack), vault or Fields(secrets))]  # type: ignore[arg-type]


ALL = {"plausible/all": {"a", "b", "c"}}


def test_check_when_string_ref_then_its_value_field_is_what_must_exist(make_workload) -> None:
    assert verdicts(make_workload, {"K": "plausible/k"}, {**ALL, "plausible/k": {"value"}}) == []
    assert verdicts(make_workload, {"K": "plausible/k"}, {**ALL, "plausible/k": {"password"}}) == [
        "key 'plausible/k' has no property 'value' in its secret; add it, or fix the declaration"
    ]


def test_check_when_stack_names_another_field_for_the_string_form_then_that_field(make_workload) -> None:
    assert verdicts(make_workload, {"K": "plausible/k"}, {**ALL, "plausible/k": {"token"}}, stringRefProperty="token") == []


def test_check_when_map_form_without_property_on_a_secret_of_several_fields_then_flagged(make_workload) -> None:
    ref = RemoteRef(key="plausible/db")
    [message] = verdicts(make_workload, {"DB": ref}, {**ALL, "plausible/db": {"user", "password"}})
    assert message.startswith(
        "key 'plausible/db' has 2 fields and the ref names no property, so ESO writes them all as one JSON value"
    )
    assert verdicts(make_workload, {"DB": ref}, {**ALL, "plausible/db": {"dsn"}}) == []  # one field: the JSON is deliberate


def test_check_when_data_from_copies_a_secret_of_several_fields_then_not_flagged(make_workload) -> None:
    """`data_from` (ALL has three fields) reads every field on purpose."""
    assert verdicts(make_workload, {"K": "plausible/k"}, {**ALL, "plausible/k": {"value"}}) == []


def test_check_when_key_missing_then_names_it_and_the_path(make_workload) -> None:
    assert verdicts(make_workload, {"K": "plausible/k"}, ALL) == [
        "key 'plausible/k' does not exist in Vault (secret/data/plausible/k); write it before promoting"
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            403,
            "this token may not read key 'plausible/k' (secret/data/plausible/k): use a token that reads the declared prefixes",
        ),
        (500, "Vault answered HTTP 500 for key 'plausible/k' (secret/data/plausible/k)"),
    ],
)
def test_check_when_vault_refuses_or_fails_then_says_which(make_workload, status: int, message: str) -> None:
    vault = Fields(ALL, statuses={"plausible/k": status})
    assert verdicts(make_workload, {"K": "plausible/k"}, ALL, vault) == [message]


def test_check_when_metadata_policy_fetch_then_the_property_must_be_in_custom_metadata(make_workload) -> None:
    """Fetch reads the key's custom metadata (KV v2's metadata endpoint), not its data."""
    ref = RemoteRef(key="plausible/k", property="owner", metadataPolicy="Fetch")
    in_data_only = Fields({**ALL, "plausible/k": {"owner"}}, custom={"plausible/k": {"team"}})
    assert verdicts(make_workload, {"K": ref}, ALL, in_data_only) == [
        "key 'plausible/k' has no property 'owner' in its custom metadata; add it, or fix the declaration"
    ]
    assert verdicts(make_workload, {"K": ref}, ALL, Fields(ALL, custom={"plausible/k": {"owner"}})) == []
