"""ameide_secrets/declare/contract.py: the declaration models a team writes, their defaults and their error messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from ameide_secrets.declare.contract import (
    DeclarationError,
    Environment,
    ExternalSecretSpec,
    RemoteRef,
    WorkloadSecretsArgs,
    go_duration_problem,
    problems_from_validation_error,
)
from ameide_secrets.findings import Finding

MakeWorkload = Callable[..., WorkloadSecretsArgs]


def at(path: str, message: str) -> Finding:
    """A finding at a field path, as the declaration models report one."""
    return Finding(message, field=path)


def format_problems(make_workload: MakeWorkload, **fields: Any) -> list[Finding]:
    """The pydantic (format) problems of a workload built from plain data, as a user sees them."""
    with pytest.raises(ValidationError) as info:
        make_workload(**fields)
    return problems_from_validation_error(info.value)


def rule_problems(make_workload: MakeWorkload, **fields: Any) -> list[Finding]:
    """The within-workload rule problems of a workload."""
    with pytest.raises(DeclarationError) as info:
        make_workload(**fields)
    return info.value.problems


def es(**fields: Any) -> dict[str, Any]:
    """One ExternalSecret as plain data (so errors carry their full path from WORKLOAD)."""
    return {"name": "plausible-secrets", "data": {"SECRET_KEY_BASE": "plausible/secret-key-base"}, **fields}


# --- RemoteRef spellings ----------------------------------------------------------------------

TOTP = RemoteRef(key="plausible/totp", property="key", decoding_strategy="Base64")


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(RemoteRef(key="plausible/totp", property="key", decoding_strategy="Base64"), id="model"),
        pytest.param({"key": "plausible/totp", "property": "key", "decodingStrategy": "Base64"}, id="dict-camelCase"),
        pytest.param({"key": "plausible/totp", "property": "key", "decoding_strategy": "Base64"}, id="dict-snake_case"),
    ],
)
def test_remote_ref_when_spelled_as_model_or_dict_is_equal(spelling: Any) -> None:
    spec = ExternalSecretSpec(name="plausible-secrets", data={"TOTP_VAULT_KEY": spelling})
    assert spec.data["TOTP_VAULT_KEY"] == TOTP
    assert spec.data["TOTP_VAULT_KEY"].decoding_strategy == "Base64"


def test_remote_ref_when_string_equals_map_with_only_key() -> None:
    spec = ExternalSecretSpec(
        name="plausible-secrets",
        data={"A": "plausible/a", "B": {"key": "plausible/a"}, "C": RemoteRef(key="plausible/a")},
        data_from=["plausible/a"],
    )
    assert spec.data["A"] == spec.data["B"] == spec.data["C"] == spec.data_from[0] == RemoteRef(key="plausible/a")


def test_remote_ref_when_dict_uses_every_eso_camel_case_key_sets_each_field() -> None:
    ref = ExternalSecretSpec(
        name="x",
        data={
            "K": {
                "key": "plausible/k",
                "property": "p",
                "version": "3",
                "decodingStrategy": "Base64URL",
                "conversionStrategy": "Unicode",
                "metadataPolicy": "Fetch",
            }
        },
    ).data["K"]
    assert (ref.key, ref.property, ref.version) == ("plausible/k", "p", "3")
    assert (ref.decoding_strategy, ref.conversion_strategy, ref.metadata_policy) == ("Base64URL", "Unicode", "Fetch")


def test_remote_ref_when_defaults_are_eso_defaults() -> None:
    ref = RemoteRef(key="plausible/a")
    assert (ref.property, ref.version) == (None, None)
    assert (ref.decoding_strategy, ref.conversion_strategy, ref.metadata_policy) == ("None", "Default", "None")


# --- Environment ------------------------------------------------------------------------------


def test_environment_when_compared_orders_local_staging_production() -> None:
    local, staging, production = Environment.LOCAL, Environment.STAGING, Environment.PRODUCTION
    assert local < staging < production
    assert production > staging > local
    assert local <= local
    assert staging >= staging
    assert not production <= staging
    assert not local >= staging


def test_environment_when_sorted_is_in_rollout_order() -> None:
    shuffled = [Environment.PRODUCTION, Environment.LOCAL, Environment.STAGING]
    assert sorted(shuffled) == [Environment.LOCAL, Environment.STAGING, Environment.PRODUCTION]
    assert max(shuffled) is Environment.PRODUCTION


def test_environment_when_rollout_given_as_string_becomes_environment(make_workload: MakeWorkload) -> None:
    assert make_workload(rollout="staging").rollout is Environment.STAGING


def test_environment_when_compared_with_plain_string_then_by_rank() -> None:
    assert Environment.STAGING < "production"
    assert Environment.PRODUCTION >= "staging"
    with pytest.raises(ValueError, match="'qa' is not a valid Environment"):
        assert Environment.LOCAL < "qa"


# --- defaults -----------------------------------------------------------------------------------


def test_external_secret_spec_when_minimal_has_eso_defaults() -> None:
    spec = ExternalSecretSpec(name="plausible-secrets", data={"A": "plausible/a"})
    assert spec.creation_policy == "Owner"
    assert spec.deletion_policy == "Retain"
    assert spec.type == "Opaque"
    assert spec.refresh_interval is None
    assert spec.target_name == "plausible-secrets"


def test_external_secret_spec_when_target_set_writes_that_secret() -> None:
    assert ExternalSecretSpec(name="plausible-secrets", target="plausible", data={"A": "plausible/a"}).target_name == "plausible"


def test_workload_prefix_when_no_key_prefix_is_workload_slash(make_workload: MakeWorkload) -> None:
    assert make_workload().prefix == "plausible/"


def test_workload_prefix_when_key_prefix_set_overrides_and_is_enforced(make_workload: MakeWorkload) -> None:
    workload = make_workload(key_prefix="shared/db/", external_secrets=[es(data={"URL": "shared/db/url"})])
    assert workload.prefix == "shared/db/"
    problems = rule_problems(make_workload, key_prefix="shared/db/")
    assert [p.field for p in problems] == ['WORKLOAD.external_secrets[0].data["SECRET_KEY_BASE"]']


@pytest.mark.parametrize("prefix", ["shared/db", "/shared/", "/", "*/", "shared/+/", "shared//", "shared/../", 'a"b/'])
def test_workload_key_prefix_when_malformed_or_a_vault_wildcard_reports_it(make_workload: MakeWorkload, prefix: str) -> None:
    assert format_problems(make_workload, key_prefix=prefix) == [
        at(
            "WORKLOAD.key_prefix",
            f"{prefix!r} must be a Vault path ending in '/', e.g. 'shared/db/': letters, digits, '-', '_' and '.' "
            "between slashes ('*' and '+' are wildcards in Vault policies)",
        )
    ]


# --- within-workload rules (DeclarationError) ---------------------------------------------------


def test_rules_when_data_key_outside_prefix_names_path_and_fix(make_workload: MakeWorkload) -> None:
    problems = rule_problems(make_workload, external_secrets=[es(data={"SECRET_KEY_BASE": "growth/x"})])
    assert problems == [
        at(
            'WORKLOAD.external_secrets[0].data["SECRET_KEY_BASE"]',
            "key 'growth/x' is outside the workload's prefix 'plausible/' (use a key under plausible/; another prefix needs a key_prefix under one the platform grants your team in platform/tenants.yaml)",
        )
    ]


def test_rules_when_data_from_key_outside_prefix_names_index(make_workload: MakeWorkload) -> None:
    problems = rule_problems(make_workload, external_secrets=[es(data_from=["plausible/ok", "growth/all"])])
    assert [p.field for p in problems] == ["WORKLOAD.external_secrets[0].data_from[1]"]


def test_rules_when_key_shares_only_a_name_prefix_is_outside(make_workload: MakeWorkload) -> None:
    """`plausible-admin/x` is another workload's key, not under `plausible/`."""
    problems = rule_problems(make_workload, external_secrets=[es(data={"A": "plausible-admin/x"})])
    assert [p.field for p in problems] == ['WORKLOAD.external_secrets[0].data["A"]']


@pytest.mark.parametrize("creation", ["Orphan", "Merge", "None", "CreateOrMerge"])
def test_rules_when_delete_without_owner_names_path_and_fix(make_workload: MakeWorkload, creation: str) -> None:
    problems = rule_problems(make_workload, external_secrets=[es(creation_policy=creation, deletion_policy="Delete")])
    assert problems == [
        at(
            "WORKLOAD.external_secrets[0].deletion_policy",
            f'deletion policy "Delete" needs creation policy "Owner", got {creation!r} (use deletion policy "Retain")',
        )
    ]


def test_rules_when_merge_deletion_with_none_creation_names_path_and_fix(make_workload: MakeWorkload) -> None:
    problems = rule_problems(make_workload, external_secrets=[es(creation_policy="None", deletion_policy="Merge")])
    assert problems == [
        at(
            "WORKLOAD.external_secrets[0].deletion_policy",
            'deletion policy "Merge" cannot be used with creation policy "None": there is no Secret to merge (use "Retain")',
        )
    ]


@pytest.mark.parametrize(
    ("creation", "deletion"),
    [("Owner", "Delete"), ("Owner", "Merge"), ("Merge", "Merge"), ("None", "Retain"), ("Orphan", "Retain")],
)
def test_rules_when_policy_pair_allowed_by_eso_accepts(make_workload: MakeWorkload, creation: str, deletion: str) -> None:
    spec = make_workload(external_secrets=[es(creation_policy=creation, deletion_policy=deletion)]).external_secrets[0]
    assert (spec.creation_policy, spec.deletion_policy) == (creation, deletion)


def test_rules_when_neither_data_nor_data_from_names_the_external_secret(make_workload: MakeWorkload) -> None:
    problems = rule_problems(make_workload, external_secrets=[{"name": "plausible-secrets"}])
    assert problems == [
        at(
            "WORKLOAD.external_secrets[0]",
            "ExternalSecret 'plausible-secrets' reads no keys: ESO rejects an ExternalSecret without data or dataFrom (add at least one entry)",
        )
    ]


def test_rules_when_only_data_from_accepts(make_workload: MakeWorkload) -> None:
    workload = make_workload(external_secrets=[{"name": "plausible-secrets", "data_from": ["plausible/all"]}])
    assert workload.external_secrets[0].data_from == [RemoteRef(key="plausible/all")]


def test_rules_when_several_broken_reports_all_together(make_workload: MakeWorkload) -> None:
    with pytest.raises(DeclarationError) as info:
        make_workload(
            external_secrets=[
                es(data={"A": "growth/a", "B": "plausible/b"}, creation_policy="Orphan", deletion_policy="Delete"),
                {"name": "empty"},
                es(name="third", data_from=["other/x"]),
            ]
        )
    error = info.value
    assert error.workload == "plausible"
    assert [p.field for p in error.problems] == [
        "WORKLOAD.external_secrets[0].deletion_policy",
        'WORKLOAD.external_secrets[0].data["A"]',
        "WORKLOAD.external_secrets[1]",
        "WORKLOAD.external_secrets[2].data_from[0]",
    ]
    assert str(error).splitlines() == [f"{p.field}: {p.message}" for p in error.problems]


# --- format problems (pydantic, via problems_from_validation_error) ------------------------------


def test_format_when_decoding_strategy_unknown_names_camel_case_path(make_workload: MakeWorkload) -> None:
    problems = format_problems(
        make_workload, external_secrets=[es(data={"X": {"key": "plausible/x", "decodingStrategy": "Hex"}})]
    )
    assert problems == [
        at(
            'WORKLOAD.external_secrets[0].data["X"].decodingStrategy',
            "Input should be 'Auto', 'Base64', 'Base64URL' or 'None', got 'Hex'",
        )
    ]


def test_format_when_rollout_unknown_lists_environments(make_workload: MakeWorkload) -> None:
    assert format_problems(make_workload, rollout="dev") == [
        at("WORKLOAD.rollout", "Input should be 'local', 'staging' or 'production', got 'dev'")
    ]


SPELLING = "unknown field (check the spelling against ameide_secrets/declare/contract.py)"


@pytest.mark.parametrize(
    ("fields", "path", "suggestion"),
    [
        ({"owner": "x"}, "WORKLOAD.owner", None),
        ({"key_prefx": "x/"}, "WORKLOAD.key_prefx", "key_prefix"),
        ({"external_secrets": [es(secret_key="x")]}, "WORKLOAD.external_secrets[0].secret_key", None),
        (
            {"external_secrets": [es(refresh_intervall="1h")]},
            "WORKLOAD.external_secrets[0].refresh_intervall",
            "refresh_interval",
        ),
        ({"external_secrets": [es(creation_polcy="Owner")]}, "WORKLOAD.external_secrets[0].creation_polcy", "creation_policy"),
        # A RemoteRef written as a dict takes ESO's camelCase keys as well as the field names.
        (
            {"external_secrets": [es(data={"X": {"key": "plausible/x", "decoding": "Base64"}})]},
            'WORKLOAD.external_secrets[0].data["X"].decoding',
            "decodingStrategy",
        ),
        (
            {"external_secrets": [es(data_from=[{"key": "plausible/x", "metadataPolcy": "Fetch"}])]},
            "WORKLOAD.external_secrets[0].data_from[0].metadataPolcy",
            "metadataPolicy",
        ),
        (
            {"external_secrets": [es(data={"X": {"key": "plausible/x", "proprety": "p"}})]},
            'WORKLOAD.external_secrets[0].data["X"].proprety',
            "property",
        ),
        (
            {"external_secrets": [es(data={"X": {"key": "plausible/x", "zzz": 1}})]},
            'WORKLOAD.external_secrets[0].data["X"].zzz',
            None,
        ),
    ],
)
def test_format_when_unknown_field_then_spelling_and_the_closest_field_if_any(
    make_workload: MakeWorkload, fields: dict[str, Any], path: str, suggestion: str | None
) -> None:
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    assert format_problems(make_workload, **fields) == [at(path, SPELLING + hint)]


def test_format_when_required_field_missing_names_it(make_workload: MakeWorkload) -> None:
    problems = format_problems(make_workload, external_secrets=[{"data": {"A": "plausible/a"}}])
    assert problems == [at("WORKLOAD.external_secrets[0].name", "required field is missing")]


def test_format_when_top_level_field_missing_names_it() -> None:
    with pytest.raises(ValidationError) as info:
        WorkloadSecretsArgs(workload="plausible", namespace="ameide", rollout="local")
    assert problems_from_validation_error(info.value) == [at("WORKLOAD.team", "required field is missing")]


@pytest.mark.parametrize("duration", ["1h", "15m", "1h30m", "0", "1.5h", "500ms", "90s"])
def test_format_when_refresh_interval_is_go_duration_accepts(duration: str) -> None:
    assert go_duration_problem(duration) is None
    assert ExternalSecretSpec(name="x", data={"A": "x/a"}, refresh_interval=duration).refresh_interval == duration


@pytest.mark.parametrize("duration", ["1 hour", "1d", "h", "", "1H", "00:15"])
def test_format_when_refresh_interval_not_go_duration_names_path(make_workload: MakeWorkload, duration: str) -> None:
    assert format_problems(make_workload, external_secrets=[es(refresh_interval=duration)]) == [
        at(
            "WORKLOAD.external_secrets[0].refresh_interval",
            f'{duration!r} must be a Go duration such as "1h", "15m" or "1h30m" ("0" syncs once)',
        )
    ]


def test_format_when_rotate_within_is_a_bound_accepts() -> None:
    assert ExternalSecretSpec(name="x", data={"A": "x/a"}, rotate_within="90d").rotate_within == "90d"


@pytest.mark.parametrize("bound", ["90", "1.5d", "0d", "1h30"])
def test_format_when_rotate_within_not_a_bound_names_path(make_workload: MakeWorkload, bound: str) -> None:
    assert format_problems(make_workload, external_secrets=[es(rotate_within=bound)]) == [
        at(
            "WORKLOAD.external_secrets[0].rotate_within",
            f'{bound!r} must be a duration such as "90d", "12w" or "1d12h" (units w, d, h, m, s, largest first; not zero)',
        )
    ]


@pytest.mark.parametrize(
    ("field", "key", "what"),
    [
        ("labels", "ameide.io/workload", "label"),
        ("labels", "app.kubernetes.io/managed-by", "label"),
        ("annotations", "ameide.io/key-prefix", "annotation"),
        ("annotations", "pulumi.com/patchForce", "annotation"),
    ],
)
def test_format_when_reserved_label_prefix_is_rejected(make_workload: MakeWorkload, field: str, key: str, what: str) -> None:
    assert format_problems(make_workload, external_secrets=[es(**{field: {key: "x"}})]) == [
        at(
            f"WORKLOAD.external_secrets[0].{field}",
            f"{what} key {key!r} is reserved for the platform (prefixes ameide.io/, pulumi.com/, app.kubernetes.io/managed-by)",
        )
    ]


def test_format_when_user_labels_are_valid_keeps_them(make_workload: MakeWorkload) -> None:
    spec = make_workload(
        external_secrets=[es(labels={"app.kubernetes.io/name": "plausible"}, annotations={"note": "free text: ok"})]
    ).external_secrets[0]
    assert spec.labels == {"app.kubernetes.io/name": "plausible"}
    assert spec.annotations == {"note": "free text: ok"}


def test_format_when_label_value_invalid_names_label(make_workload: MakeWorkload) -> None:
    problems = format_problems(make_workload, external_secrets=[es(labels={"tier": "free text"})])
    assert [p.field for p in problems] == ["WORKLOAD.external_secrets[0].labels"]
    assert problems[0].message.startswith("label 'tier' value 'free text' must be alphanumerics")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        *(
            (key, f"key {key!r} has an empty, '.' or '..' segment; Vault would normalise it into another path (write it plainly)")
            for key in ["/x", "plausible/x/", "a//b", "", "a/../b", "./plausible/x", "plausible/./x"]
        ),
        *(
            (
                key,
                f"key {key!r} starts with {key.split('/')[0] + '/'!r}, which Vault reads as part of the mount's API path "
                "(name the key relative to the KV mount, e.g. 'plausible/db')",
            )
            for key in ["data/plausible/x", "metadata/plausible/x"]
        ),
    ],
)
def test_format_when_vault_key_malformed_names_key_path(make_workload: MakeWorkload, key: str, message: str) -> None:
    assert format_problems(make_workload, external_secrets=[es(data={"X": key})]) == [
        at('WORKLOAD.external_secrets[0].data["X"].key', message)
    ]


def test_format_when_data_from_key_malformed_names_index(make_workload: MakeWorkload) -> None:
    problems = format_problems(make_workload, external_secrets=[es(data_from=["plausible/ok", "/abs"])])
    assert [p.field for p in problems] == ["WORKLOAD.external_secrets[0].data_from[1].key"]


def test_format_when_secret_key_invalid_names_data(make_workload: MakeWorkload) -> None:
    problems = format_problems(make_workload, external_secrets=[es(data={"a/b": "plausible/a"})])
    assert problems == [
        at(
            "WORKLOAD.external_secrets[0].data",
            "secret key 'a/b' must consist of alphanumerics, '-', '_' or '.', and not be '.' or start with '..' (a Kubernetes Secret key)",
        )
    ]


@pytest.mark.parametrize(("field", "value"), [("workload", "Plausible"), ("team", "team_a"), ("namespace", "-ameide")])
def test_format_when_label_field_malformed_names_field(make_workload: MakeWorkload, field: str, value: str) -> None:
    problems = format_problems(make_workload, **{field: value})
    assert [p.field for p in problems] == [f"WORKLOAD.{field}"]
    assert problems[0].message.startswith(f"{value!r} must be a DNS-1123 label")


def test_format_when_external_secret_name_malformed_names_it(make_workload: MakeWorkload) -> None:
    problems = format_problems(make_workload, external_secrets=[es(name="Plausible_Secrets")])
    assert [p.field for p in problems] == ["WORKLOAD.external_secrets[0].name"]


def test_format_when_several_broken_reports_all_together(make_workload: MakeWorkload) -> None:
    problems = format_problems(
        make_workload,
        rollout="dev",
        external_secrets=[es(refresh_interval="soon", data={"X": {"key": "plausible/x", "decodingStrategy": "Hex"}})],
    )
    assert sorted(p.field or "" for p in problems) == sorted(
        [
            "WORKLOAD.rollout",
            "WORKLOAD.external_secrets[0].refresh_interval",
            'WORKLOAD.external_secrets[0].data["X"].decodingStrategy',
        ]
    )


def test_format_when_secret_key_named_like_a_field_keeps_dotted_path(make_workload: MakeWorkload) -> None:
    problems = format_problems(
        make_workload, external_secrets=[es(data={"labels": {"key": "plausible/x", "decodingStrategy": "Hex"}})]
    )
    assert [p.field for p in problems] == ['WORKLOAD.external_secrets[0].data["labels"].decodingStrategy']


@pytest.mark.parametrize(
    ("ref", "read"),
    [("plausible/a", "value"), ({"key": "plausible/a"}, None), ({"key": "plausible/a", "property": "url"}, "url")],
)
def test_property_of_when_string_or_map_form_then_the_field_it_reads(ref: Any, read: str | None) -> None:
    """The string form reads the stack's string property; a map without property reads the whole secret."""
    assert ExternalSecretSpec(name="s", data={"A": ref}).property_of("A", "value") == read


@pytest.mark.parametrize(
    ("workload", "spec", "adopts"), [(True, None, True), (True, False, False), (False, True, True), (False, None, False)]
)
def test_adopts_when_workload_and_external_secret_set_adopt_then_the_external_secrets_own_wins(
    make_workload: MakeWorkload, workload: bool, spec: bool | None, adopts: bool
) -> None:
    external_secret = ExternalSecretSpec(name="plausible-secrets", adopt=spec, data={"A": "plausible/a"})
    args = make_workload(adopt=workload, external_secrets=[external_secret])
    assert args.adopts(external_secret) is adopts
