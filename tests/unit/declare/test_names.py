"""declarations/names.py: the Kubernetes naming rules every declaration is checked against."""

from __future__ import annotations

import pytest

from ameide_secrets.declare import names

# --- DNS-1123 label (workload, team, namespace) -------------------------------------------


@pytest.mark.parametrize("value", ["a", "plausible", "ameide-2", "0abc", "a" * 63])
def test_dns1123_label_when_valid_returns_none(value: str) -> None:
    assert names.dns1123_label_problem(value) is None


def test_dns1123_label_when_64_chars_reports_length() -> None:
    assert names.dns1123_label_problem("a" * 64) == "is 64 characters; a DNS-1123 label has at most 63"


@pytest.mark.parametrize("value", ["", "Plausible", "-plausible", "plausible-", "plaus_ible", "plaus.ible", "a b"])
def test_dns1123_label_when_malformed_reports_format(value: str) -> None:
    assert names.dns1123_label_problem(value) == (
        "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit"
    )


# --- DNS-1123 subdomain (object names) ------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "plausible-secrets", "vault.ameide.io", "a-1.b-2", "a" * 253])
def test_dns1123_subdomain_when_valid_returns_none(value: str) -> None:
    assert names.dns1123_subdomain_problem(value) is None


def test_dns1123_subdomain_when_254_chars_reports_length() -> None:
    assert names.dns1123_subdomain_problem("a" * 254) == "is 254 characters; a DNS-1123 subdomain has at most 253"


@pytest.mark.parametrize("value", ["", "Secrets", "-secrets", "secrets-", "a..b", ".a", "a.", "a_b", "a/b"])
def test_dns1123_subdomain_when_malformed_reports_format(value: str) -> None:
    problem = names.dns1123_subdomain_problem(value)
    assert problem is not None
    assert problem.startswith("must be a DNS-1123 subdomain")


# --- label / annotation keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["app", "App_Name.v2", "a" * 63, "example.com/name", "sub.example.com/Name-1", "example.com/" + "a" * 63],
)
def test_label_key_when_valid_returns_none(key: str) -> None:
    assert names.label_key_problem(key) is None


def test_label_key_when_name_part_64_chars_reports_length() -> None:
    assert names.label_key_problem("a" * 64) == "name part is 64 characters; at most 63"


def test_label_key_when_prefixed_name_part_64_chars_reports_length() -> None:
    assert names.label_key_problem("example.com/" + "a" * 64) == "name part is 64 characters; at most 63"


@pytest.mark.parametrize("key", ["-app", "_app", "app-", "app.", "a b", "example.com/", "example.com/_x"])
def test_label_key_when_name_part_malformed_reports_format(key: str) -> None:
    assert names.label_key_problem(key) == (
        "name part must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
    )


@pytest.mark.parametrize("key", ["Example.com/name", "-example.com/name", "a/b/c", "a" * 254 + "/name"])
def test_label_key_when_prefix_not_a_subdomain_names_prefix(key: str) -> None:
    prefix = key.rpartition("/")[0]
    problem = names.label_key_problem(key)
    assert problem is not None
    assert problem.startswith(f"prefix {prefix!r} ")


def test_label_key_when_prefix_empty_then_rejected() -> None:
    assert names.label_key_problem("/name") is not None


# --- label values ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "pulumi", "Ameide_Secrets.v-2", "a" * 63])
def test_label_value_when_valid_returns_none(value: str) -> None:
    assert names.label_value_problem(value) is None


def test_label_value_when_64_chars_reports_length() -> None:
    assert names.label_value_problem("a" * 64) == "is 64 characters; a label value has at most 63"


@pytest.mark.parametrize("value", ["-x", "_x", "x_", "x.", "a b", "a/b", "a:b"])
def test_label_value_when_malformed_reports_format(value: str) -> None:
    assert names.label_value_problem(value) == (
        "must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
    )


# --- Secret data keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["SECRET_KEY_BASE", "tls.crt", ".dockerconfigjson", "-leading-dash", "_leading_underscore", "a" * 253]
)
def test_secret_key_when_valid_returns_none(key: str) -> None:
    assert names.secret_key_problem(key) is None


def test_secret_key_when_254_chars_reports_length() -> None:
    assert names.secret_key_problem("a" * 254) == "is 254 characters; a Secret key has at most 253"


@pytest.mark.parametrize("key", ["", ".", "..", "a/b", "a b", "key:1", "ключ"])
def test_secret_key_when_malformed_reports_format(key: str) -> None:
    assert names.secret_key_problem(key) == (
        "must consist of alphanumerics, '-', '_' or '.', and not be '.' or start with '..' (a Kubernetes Secret key)"
    )


def test_secret_key_when_starts_with_two_dots_then_rejected() -> None:
    assert names.secret_key_problem("..data") is not None


# --- Pulumi logical names -------------------------------------------------------------------


def test_resource_name_when_called_is_namespace_slash_name() -> None:
    assert names.resource_name("ameide", "plausible-secrets") == "ameide/plausible-secrets"


def test_resource_name_when_same_name_in_two_namespaces_differs() -> None:
    assert names.resource_name("ameide", "db") != names.resource_name("ameide-staging", "db")
