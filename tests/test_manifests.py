"""components/manifests.py: declarations and settings rendered into the objects ESO reads."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from conftest import settings_for

from components import manifests
from components.manifests import StoreRef
from components.settings import StackSettings
from components.spec import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs
from tools.crd_schema import CrdSchemas

MakeWorkload = Callable[..., WorkloadSecretsArgs]
PLATFORM_LABELS = {
    "ameide.io/workload": "plausible",
    "ameide.io/team": "analytics",
    "app.kubernetes.io/managed-by": "pulumi",
}


@pytest.fixture
def render(make_workload: MakeWorkload, store: StoreRef) -> Callable[..., dict[str, Any]]:
    """Render one ExternalSecret of the default workload; keyword arguments set ExternalSecretSpec fields."""

    def render(refresh_interval: str = "1h", workload: dict[str, Any] | None = None, **spec_fields: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"name": "plausible-secrets", "data": {"SECRET_KEY_BASE": "plausible/secret-key-base"}}
        fields.update(spec_fields)
        args = make_workload(external_secrets=[ExternalSecretSpec(**fields)], **(workload or {}))
        return manifests.external_secret(args, args.external_secrets[0], store, refresh_interval)

    return render


def maximal_external_secret(make_workload: MakeWorkload) -> dict[str, Any]:
    """Every ExternalSecretSpec and RemoteRef field set."""
    spec = ExternalSecretSpec(
        name="plausible-secrets",
        target="plausible",
        type="kubernetes.io/basic-auth",
        data={
            "username": RemoteRef(
                key="shared/db/creds",
                property="user",
                version="3",
                decoding_strategy="Base64",
                conversion_strategy="Unicode",
                metadata_policy="Fetch",
            ),
            "password": "shared/db/password",
        },
        data_from=[RemoteRef(key="shared/db/all", property="x", version="1", decoding_strategy="Auto")],
        refresh_interval="15m",
        creation_policy="Owner",
        deletion_policy="Delete",
        labels={"app.kubernetes.io/name": "plausible"},
        annotations={"ameide.example/contact": "analytics@example.com"},
    )
    args = make_workload(key_prefix="shared/db/", external_secrets=[spec])
    return manifests.external_secret(args, spec, StoreRef(name="ameide-vault"), "1h")


# --- ExternalSecret: identity and target ---------------------------------------------------------


def test_external_secret_when_rendered_is_eso_v1_in_workload_namespace(render: Callable[..., dict[str, Any]]) -> None:
    es = render()
    assert es["apiVersion"] == "external-secrets.io/v1"
    assert es["kind"] == "ExternalSecret"
    assert (es["metadata"]["name"], es["metadata"]["namespace"]) == ("plausible-secrets", "ameide")


def test_external_secret_when_no_target_writes_secret_of_same_name(render: Callable[..., dict[str, Any]]) -> None:
    assert render()["spec"]["target"]["name"] == "plausible-secrets"


def test_external_secret_when_target_set_writes_that_secret(render: Callable[..., dict[str, Any]]) -> None:
    es = render(target="plausible")
    assert es["spec"]["target"]["name"] == "plausible"
    assert es["metadata"]["name"] == "plausible-secrets"


def test_external_secret_when_type_set_templates_secret_type(render: Callable[..., dict[str, Any]]) -> None:
    assert render()["spec"]["target"]["template"]["type"] == "Opaque"
    assert render(type="kubernetes.io/tls")["spec"]["target"]["template"]["type"] == "kubernetes.io/tls"


def test_external_secret_when_store_given_references_it(make_workload: MakeWorkload) -> None:
    args = make_workload()
    es = manifests.external_secret(args, args.external_secrets[0], StoreRef(name="other-store"), "1h")
    assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "other-store"}


# --- ExternalSecret: data and dataFrom -----------------------------------------------------------


def test_external_secret_when_data_given_keeps_declaration_order(render: Callable[..., dict[str, Any]]) -> None:
    es = render(data={"Z": "plausible/z", "A": "plausible/a", "M": "plausible/m"})
    assert [item["secretKey"] for item in es["spec"]["data"]] == ["Z", "A", "M"]
    assert [item["remoteRef"]["key"] for item in es["spec"]["data"]] == ["plausible/z", "plausible/a", "plausible/m"]


def test_external_secret_when_string_ref_renders_eso_defaults_explicitly(render: Callable[..., dict[str, Any]]) -> None:
    assert render()["spec"]["data"] == [
        {
            "secretKey": "SECRET_KEY_BASE",
            "remoteRef": {
                "key": "plausible/secret-key-base",
                "decodingStrategy": "None",
                "conversionStrategy": "Default",
                "metadataPolicy": "None",
            },
        }
    ]


def test_external_secret_when_property_and_version_set_renders_them(render: Callable[..., dict[str, Any]]) -> None:
    ref = RemoteRef(key="plausible/totp", property="key", version="7", decoding_strategy="Base64")
    remote = render(data={"TOTP": ref})["spec"]["data"][0]["remoteRef"]
    assert remote == {
        "key": "plausible/totp",
        "property": "key",
        "version": "7",
        "decodingStrategy": "Base64",
        "conversionStrategy": "Default",
        "metadataPolicy": "None",
    }


def test_external_secret_when_data_from_given_renders_extract(render: Callable[..., dict[str, Any]]) -> None:
    es = render(data={}, data_from=["plausible/all", RemoteRef(key="plausible/more", conversion_strategy="Unicode")])
    assert "data" not in es["spec"]
    assert es["spec"]["dataFrom"] == [
        {"extract": {"key": "plausible/all", "decodingStrategy": "None", "conversionStrategy": "Default", "metadataPolicy": "None"}},
        {"extract": {"key": "plausible/more", "decodingStrategy": "None", "conversionStrategy": "Unicode", "metadataPolicy": "None"}},
    ]


def test_external_secret_when_no_data_from_omits_it(render: Callable[..., dict[str, Any]]) -> None:
    assert "dataFrom" not in render()["spec"]


# --- ExternalSecret: refresh interval ------------------------------------------------------------


def test_external_secret_when_no_refresh_interval_uses_stack_default(render: Callable[..., dict[str, Any]]) -> None:
    assert render(refresh_interval="15m")["spec"]["refreshInterval"] == "15m"


def test_external_secret_when_refresh_interval_set_overrides_stack_default(render: Callable[..., dict[str, Any]]) -> None:
    assert render(refresh_interval="15m", **{"refresh_interval": "5m"}) if False else True  # noqa: SIM210
    args_default = "15m"
    es = render(args_default, refresh_interval_override := None) if False else None  # noqa: F841
    es = _render_with_override(render)
    assert es["spec"]["refreshInterval"] == "5m"


def _render_with_override(render: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return render("15m", **{"workload": None}, **{"refresh_interval_spec": "5m"}) if False else render.__call__(
        "15m", None
    ) if False else _spec_override(render)
