"""Stack settings: the `ameide-secrets:*` Pulumi config of one stack, validated.

Defaults live only in `Pulumi.yaml` (its typed `config:` schema). The Pulumi CLI applies them;
the mock monitor does not, so `Project.config` overlays them the same way for offline runs.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PositiveInt, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from ameide_secrets.declare import names
from ameide_secrets.declare.contract import Environment, go_duration_problem
from ameide_secrets.findings import InputError
from ameide_secrets.rules import refresh

PROJECT = "ameide-secrets"


# The service account ESO's controller runs as (its Helm chart's default).
ESO_SERVICE_ACCOUNT = "external-secrets"


class SettingsError(InputError):
    """Stack configuration that cannot be used; one line per bad config key."""


class StackSettings(BaseModel):
    """One stack's settings; field aliases are the config keys (`ameide-secrets:<alias>`)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
    )

    environment: Environment
    """local | staging | production: which workloads this stack owns (see WorkloadSecretsArgs.rollout)."""
    store_name: str
    """Name of the shared ClusterSecretStore."""
    vault_server: str
    """Vault address as ESO reaches it."""
    vault_kv_mount: str
    """KV engine mount path."""
    vault_kv_version: Literal["v1", "v2"]
    """KV engine version."""
    vault_auth_mount: str
    """Kubernetes auth method mount path."""
    vault_role: str
    """Vault role ESO logs in with."""
    vault_audience: str | None = None
    """Audience of the token ESO presents; API server default when unset."""
    vault_ca_kind: Literal["ConfigMap", "Secret"] | None = None
    """Kind of the object holding Vault's CA bundle; system roots when unset."""
    vault_ca_name: str | None = None
    """Name of the object holding Vault's CA bundle."""
    vault_ca_key: str | None = None
    """Key of the CA bundle in that object."""
    vault_ca_namespace: str | None = None
    """Namespace of that object; the ESO namespace when unset."""
    reviewer_service_account: str
    """Service account in the ESO namespace that authenticates ESO to Vault."""
    eso_namespace: str
    """Namespace where ESO runs."""
    refresh_interval: str
    """Default ESO refresh interval (Go duration)."""
    refresh_interval_floor: str
    """The shortest refresh interval an ExternalSecret may set (rules/refresh.py)."""
    string_ref_property: str
    """The field of a Vault secret that a string ref reads (the platform's convention; `value` by default)."""
    kube_context: str | None = None
    """kubeconfig context to deploy to."""
    render_yaml_to_directory: str | None = None
    """Render manifests to this directory instead of deploying."""
    protect: bool
    """Protect the store and every ExternalSecret from deletion by Pulumi."""
    orphan_secrets_on_delete: bool
    """Delete ExternalSecrets with orphan propagation so their Secrets stay."""
    wait_for_ready: bool
    """`pulumi up` waits for the store and each ExternalSecret to be ready."""
    readiness_timeout_seconds: PositiveInt
    """How long `pulumi up` waits for readiness."""
    rollout_gate: bool
    """Refuse to own a workload the upstream stack does not own yet."""
    rollout_gate_stack: str
    """The upstream stack the rollout gate reads."""
    auth_mode: Literal["shared", "referent"]
    """`shared`: ESO presents one identity in its namespace; `referent`: one service account per admitted namespace."""
    platform_identity: str
    """Kubernetes username `pulumi up` runs as; the only one the admission policy lets create or change secret stores."""
    preview_identity: str | None = None
    """Kubernetes username PR previews run as: read and dry-run only (RBAC plus an admission policy on `request.dryRun`)."""
    vault_manage: bool
    """Manage Vault's side as code: kubernetes auth backend, ESO's role, its read-only policy."""
    vault_kubernetes_host: str
    """Kubernetes API URL as Vault reaches it (kubernetes auth config)."""
    vault_kubernetes_ca_cert: str | None = None
    """PEM CA bundle of that API server; unset: Vault in a pod uses its own service-account CA."""
    kubernetes_audience: str
    """The API server's own token audience (its --api-audiences); ESO's token also carries it when Vault is outside the cluster."""

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # Pulumi.yaml can only default an optional key to "", which means "not set".
        return None if value == "" else value

    @field_validator("store_name", "reviewer_service_account", "vault_ca_name")
    @classmethod
    def _object_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := names.dns1123_subdomain_problem(value)):
            raise ValueError(f"{value!r} {problem}")
        return value

    @field_validator("eso_namespace", "vault_ca_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and (problem := names.dns1123_label_problem(value)):
            raise ValueError(f"{value!r} {problem}")
        return value

    @field_validator("vault_server", "vault_kubernetes_host")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or len(value.split("://", 1)[1]) == 0:
            raise ValueError(f"{value!r} must be an http(s) URL such as https://vault.vault.svc:8200")
        return value.rstrip("/")

    @field_validator("vault_kubernetes_ca_cert")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("must be a PEM certificate bundle (-----BEGIN CERTIFICATE----- ...)")
        return value

    @field_validator("vault_kv_mount", "vault_auth_mount")
    @classmethod
    def _mount(cls, value: str) -> str:
        if value.startswith("/") or value.endswith("/"):
            raise ValueError(f"{value!r} must be a mount path without leading or trailing '/'")
        return value

    @field_validator("string_ref_property")
    @classmethod
    def _field_name(cls, value: str) -> str:
        if not value or "/" in value or value != value.strip():
            raise ValueError(f"{value!r} must be the name of one field of a Vault secret, e.g. value")
        return value

    @field_validator("refresh_interval", "refresh_interval_floor")
    @classmethod
    def _duration(cls, value: str) -> str:
        if problem := go_duration_problem(value):
            raise ValueError(f"{value!r} {problem}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        if (self.kube_context is None) == (self.render_yaml_to_directory is None):
            raise ValueError(
                "set exactly one of kubeContext (deploy to a cluster) and renderYamlToDirectory (write manifests only)"
            )
        if self.vault_ca_kind is not None and (self.vault_ca_name is None or self.vault_ca_key is None):
            raise ValueError("vaultCaKind needs vaultCaName and vaultCaKey")
        if self.reviewer_service_account == ESO_SERVICE_ACCOUNT:
            raise ValueError(
                f"reviewerServiceAccount must not be ESO's own account {ESO_SERVICE_ACCOUNT!r}: Vault would trust the "
                "controller's identity itself (keep the default ameide-vault-auth)"
            )
        if self.preview_identity is not None and self.preview_identity == self.platform_identity:
            raise ValueError("previewIdentity must differ from platformIdentity: previews may only dry-run, deploys must write")
        if problem := refresh.below_floor_problem(self.refresh_interval, self.refresh_interval_floor):
            raise ValueError(f"refreshInterval: {problem}")
        if self.render_yaml_to_directory is not None and self.wait_for_ready:
            raise ValueError("waitForReady needs a cluster; a stack with renderYamlToDirectory has nothing to wait for")
        return self

    @classmethod
    def from_config(cls, values: dict[str, Any], stack: str) -> StackSettings:
        """Validate config values keyed by alias; raise SettingsError naming each bad key."""
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            lines = []
            for item in error.errors(include_url=False):
                key = f"{PROJECT}:{to_camel(str(item['loc'][0]))}" if item["loc"] else "stack settings"
                message = "is required" if item["type"] == "missing" else item["msg"].removeprefix("Value error, ")
                lines.append(f"Pulumi.{stack}.yaml: {key}: {message}")
            raise SettingsError("\n".join(lines)) from None

    def kubernetes_provider_args(self) -> dict[str, Any]:
        """Arguments of the stack's Kubernetes provider: a cluster context or a render directory."""
        if self.render_yaml_to_directory is not None:
            # Every `pulumi up` writes every object: the directory is whole on any machine, not
            # only the changes since the state was last updated (by CI, on another runner).
            return {"render_yaml_to_directory": self.render_yaml_to_directory, "always_render": True}
        return {"context": self.kube_context}


def config_string(value: Any) -> str:
    """A config value as the Pulumi CLI passes it to a program: a string (JSON for anything but a string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
