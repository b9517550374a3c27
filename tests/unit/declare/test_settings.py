"""declarations/settings.py: reading a stack's config as the CLI would, and validating it."""

from __future__ import annotations

import pytest
from pydantic.alias_generators import to_snake

from ameide_secrets.declare.contract import Environment
from ameide_secrets.declare.settings import PROJECT, SettingsError, StackSettings

from helpers import config_for, settings_for


def config_values(stack: str, **overrides: str) -> dict[str, str]:
    """A real stack's `ameide-secrets:*` values keyed by alias, as `from_config` takes them."""
    values = {key.split(":", 1)[1]: value for key, value in config_for(stack).items() if key.startswith(f"{PROJECT}:")}
    values.update(overrides)
    return values


def settings_error(stack: str, **overrides: str) -> list[str]:
    with pytest.raises(SettingsError) as info:
        settings_for(stack, **overrides)
    return str(info.value).splitlines()


# --- StackSettings.from_config -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "environment"),
    [("local", Environment.LOCAL), ("staging", Environment.STAGING), ("production", Environment.PRODUCTION)],
)
def test_from_config_when_real_stack_loads_its_environment(stack: str, environment: Environment) -> None:
    assert settings_for(stack).environment is environment


def test_from_config_when_required_key_missing_names_key_and_file() -> None:
    values = config_values("staging")
    del values["vaultServer"]
    with pytest.raises(SettingsError) as info:
        StackSettings.from_config(values, "staging")
    assert str(info.value) == "Pulumi.staging.yaml: ameide-secrets:vaultServer: is required"


def test_from_config_when_environment_unknown_names_key_and_choices() -> None:
    [line] = settings_error("production", environment="prod")
    assert line.startswith("Pulumi.production.yaml: ameide-secrets:environment: ")
    assert all(name in line for name in ("'local'", "'staging'", "'production'"))


def test_from_config_when_refresh_interval_bad_names_key_and_value() -> None:
    assert settings_error("staging", refreshInterval="1 hour") == [
        'Pulumi.staging.yaml: ameide-secrets:refreshInterval: \'1 hour\' must be a Go duration such as "1h", "15m" '
        'or "1h30m" ("0" syncs once)'
    ]


@pytest.mark.parametrize("url", ["vault:8200", "https://", "ftp://vault", "vault.vault.svc"])
def test_from_config_when_vault_server_not_http_url_names_key(url: str) -> None:
    assert settings_error("staging", vaultServer=url) == [
        f"Pulumi.staging.yaml: ameide-secrets:vaultServer: {url!r} must be an http(s) URL such as https://vault.vault.svc:8200"
    ]


def test_from_config_when_vault_server_has_trailing_slash_strips_it() -> None:
    assert settings_for("staging", vaultServer="https://vault:8200/").vault_server == "https://vault:8200"


@pytest.mark.parametrize(("key", "value"), [("vaultKvMount", "/secret"), ("vaultAuthMount", "kubernetes/")])
def test_from_config_when_mount_has_slash_names_key(key: str, value: str) -> None:
    assert settings_error("staging", **{key: value}) == [
        f"Pulumi.staging.yaml: ameide-secrets:{key}: {value!r} must be a mount path without leading or trailing '/'"
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("storeName", "Ameide_Vault"),
        ("reviewerServiceAccount", "-x"),
        ("esoNamespace", "external.secrets"),
        ("vaultKvVersion", "v3"),
        ("vaultCaKind", "Bucket"),
        ("authMode", "per-namespace"),
        ("vaultManage", "sometimes"),
        ("vaultKubernetesHost", "kubernetes.default.svc"),
        ("vaultKubernetesCaCert", "MIIB..."),
    ],
)
def test_from_config_when_value_malformed_names_that_key(key: str, value: str) -> None:
    [line] = settings_error("staging", **{key: value})
    assert line.startswith(f"Pulumi.staging.yaml: ameide-secrets:{key}: ")


def test_from_config_when_several_keys_bad_reports_one_line_each() -> None:
    lines = settings_error("staging", refreshInterval="soon", vaultServer="vault", environment="dev")
    assert sorted(line.split(": ")[1] for line in lines) == [
        "ameide-secrets:environment",
        "ameide-secrets:refreshInterval",
        "ameide-secrets:vaultServer",
    ]


def test_from_config_when_unknown_key_names_it() -> None:
    [line] = settings_error("staging", vaultServr="https://v")
    assert line.startswith("Pulumi.staging.yaml: ameide-secrets:vaultServr: ")


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        pytest.param("staging", {"renderYamlToDirectory": "out"}, id="both"),
        pytest.param("local", {"renderYamlToDirectory": ""}, id="neither"),
    ],
)
def test_from_config_when_not_exactly_one_target_explains_choice(stack: str, overrides: dict[str, str]) -> None:
    assert settings_error(stack, **overrides) == [
        f"Pulumi.{stack}.yaml: stack settings: set exactly one of kubeContext (deploy to a cluster) "
        "and renderYamlToDirectory (write manifests only)"
    ]


@pytest.mark.parametrize("missing", ["vaultCaName", "vaultCaKey"])
def test_from_config_when_ca_kind_without_name_or_key_explains(missing: str) -> None:
    assert settings_error("staging", **{missing: ""}) == [
        "Pulumi.staging.yaml: stack settings: vaultCaKind needs vaultCaName and vaultCaKey"
    ]


def test_from_config_when_value_is_empty_string_is_unset() -> None:
    settings = settings_for("local", vaultAudience="")
    assert settings.vault_audience is None
    assert settings.vault_ca_kind is None
    assert settings.vault_ca_name is None
    assert settings.vault_ca_namespace is None
    assert settings.kube_context is None


def test_from_config_when_optional_set_keeps_value() -> None:
    settings = settings_for("staging", vaultAudience="vault", vaultCaNamespace="vault")
    assert (settings.vault_audience, settings.vault_ca_namespace) == ("vault", "vault")


def test_from_config_when_snake_case_names_given_accepts() -> None:
    values = {to_snake(key): value for key, value in config_values("local", vaultKvVersion="v1").items()}
    assert "vault_kv_version" in values
    assert StackSettings.from_config(values, "local").vault_kv_version == "v1"


def test_from_config_when_boolean_and_integer_strings_given_parses_them() -> None:
    """The CLI passes every value as a string; `true` / `600` must become real values."""
    settings = settings_for("staging", protect="true", waitForReady="false", readinessTimeoutSeconds="600")
    assert (settings.protect, settings.wait_for_ready, settings.readiness_timeout_seconds) == (True, False, 600)


def test_from_config_when_boolean_malformed_names_key() -> None:
    [line] = settings_error("staging", protect="maybe")
    assert line.startswith("Pulumi.staging.yaml: ameide-secrets:protect: ")


def test_from_config_when_waiting_while_rendering_yaml_explains() -> None:
    assert settings_error("local", waitForReady="true") == [
        "Pulumi.local.yaml: stack settings: waitForReady needs a cluster; a stack with renderYamlToDirectory has nothing to wait for"
    ]


def test_from_config_when_preview_identity_is_the_platform_identity_then_refused() -> None:
    """Previews may only dry-run: an identity that also deploys would make every PR preview a deploy."""
    identity = settings_for("staging").platform_identity
    assert settings_error("staging", previewIdentity=identity) == [
        "Pulumi.staging.yaml: stack settings: previewIdentity must differ from platformIdentity: previews may only dry-run, "
        "deploys must write"
    ]


@pytest.mark.parametrize("seconds", ["0", "-5"])
def test_from_config_when_readiness_timeout_not_positive_then_key_named(seconds: str) -> None:
    assert settings_error("staging", readinessTimeoutSeconds=seconds) == [
        "Pulumi.staging.yaml: ameide-secrets:readinessTimeoutSeconds: Input should be greater than 0"
    ]


# --- Kubernetes provider -----------------------------------------------------------------------


def test_kubernetes_provider_args_when_local_renders_to_directory_then_always_whole() -> None:
    assert settings_for("local").kubernetes_provider_args() == {
        "render_yaml_to_directory": "rendered/local",
        "always_render": True,
    }


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_kubernetes_provider_args_when_cluster_stack_uses_context(stack: str) -> None:
    assert settings_for(stack).kubernetes_provider_args() == {"context": f"ameide-{stack}"}


def test_from_config_when_platform_identity_missing_names_key() -> None:
    values = config_values("staging")
    del values["platformIdentity"]
    with pytest.raises(SettingsError, match=r"^Pulumi.staging.yaml: ameide-secrets:platformIdentity: is required$"):
        StackSettings.from_config(values, "staging")


@pytest.mark.parametrize(("stack", "managed"), [("local", False), ("staging", True), ("production", True)])
def test_from_config_when_real_stack_then_vault_managed_outside_local_and_namespaces_apart_in_vault(
    stack: str, managed: bool
) -> None:
    settings = settings_for(stack)
    assert (settings.vault_manage, settings.auth_mode, settings.vault_audience) == (managed, "referent", "vault")


def test_from_config_when_reviewer_is_esos_own_account_then_refused() -> None:
    with pytest.raises(SettingsError, match="reviewerServiceAccount must not be ESO's own account 'external-secrets'"):
        settings_for("staging", reviewerServiceAccount="external-secrets")
