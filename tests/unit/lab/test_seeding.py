"""lab/vault.py's seeding plan: exactly the fields each rendered ref reads, realistic for whole-secret copies."""

from __future__ import annotations

from typing import Any

from lab import vault


def external_secret(secret_type: str = "Opaque", **spec: Any) -> dict[str, Any]:
    return {"kind": "ExternalSecret", "metadata": {"name": "x"}, "spec": {"target": {"template": {"type": secret_type}}, **spec}}


def test_read_properties_when_data_refs_then_the_fields_they_name_and_value_for_a_whole_secret_read() -> None:
    data = [
        {"secretKey": "A", "remoteRef": {"key": "app/db", "property": "password"}},
        {"secretKey": "B", "remoteRef": {"key": "app/db", "property": "username"}},
        {"secretKey": "C", "remoteRef": {"key": "app/blob"}},
    ]
    assert vault.read_properties([external_secret(data=data)]) == {"app/blob": ["value"], "app/db": ["password", "username"]}


def test_read_properties_when_data_from_fills_a_basic_auth_secret_then_username_and_password() -> None:
    copies = external_secret("kubernetes.io/basic-auth", dataFrom=[{"extract": {"key": "app/login"}}])
    assert vault.read_properties([copies]) == {"app/login": ["password", "username"]}
    assert vault.read_properties([external_secret(dataFrom=[{"extract": {"key": "app/all"}}])]) == {"app/all": ["value"]}
