"""rendering/manifests.py: declarations and settings rendered into the objects ESO reads."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ameide_secrets.declare.contract import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.offline.crd_schema import CrdSchemas
from ameide_secrets.render import manifests

from helpers import settings_for

MakeWorkload = Callable[..., WorkloadSecretsArgs]
Render = Callable[..., dict[str, Any]]
PLATFORM_LABELS = {
    "ameide.io/workload": "plausible",
    "ameide.io/team": "analytics",
    "app.kubernetes.io/managed-by": "pulumi",
}


@pytest.fixture
def local_settings() -> StackSettings:
    return settings_for("local")


@pytest.fixture
def render(make_workload: MakeWorkload, local_settings: StackSettings) -> Render:
    """Render one ExternalSecret of the default workload.

    `settings` are the stack's (local by default: no cluster-only annotations), `workload`
    overrides WorkloadSecretsArgs fields, and any other keyword sets an ExternalSecretSpec field."""

    def render(
        settings: StackSettings | None = None, workload: dict[str, Any] | None = None, **spec_fields: Any
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"name": "plausible-secrets", "data": {"SECRET_KEY_BASE": "plausible/secret-key-base"}}
        fields.update(spec_fields)
        args = make_workload(external_secrets=[ExternalSecretSpec(**fields)], **(workload or {}))
        return manifests.external_secret(args, args.external_secrets[0], settings or local_settings)

    return render


@pytest.fixture
def maximal(make_workload: MakeWorkload, staging_settings: StackSettings) -> dict[str, Any]:
    """An ExternalSecret with every ExternalSecretSpec and RemoteRef field set."""
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
        rotate_within="90d",
        creation_policy="Owner",
        deletion_policy="Delete",
        labels={"app.kubernetes.io/name": "plausible"},
        annotations={"ameide.example/contact": "analytics@example.com"},
    )
    args = make_workload(key_prefix="shared/db/", external_secrets=[spec])
    return manifests.external_secret(args, spec, staging_settings)


# --- ExternalSecret: identity and target ---------------------------------------------------------


def test_external_secret_when_rendered_is_eso_v1_in_workload_namespace(render: Render) -> None:
    es = render()
    assert es["apiVersion"] == "external-secrets.io/v1"
    assert es["kind"] == "ExternalSecret"
    assert (es["metadata"]["name"], es["metadata"]["namespace"]) == ("plausible-secrets", "ameide")


def test_external_secret_when_no_target_writes_secret_of_same_name(render: Render) -> None:
    assert render()["spec"]["target"]["name"] == "plausible-secrets"


def test_external_secret_when_target_set_writes_that_secret(render: Render) -> None:
    es = render(target="plausible")
    assert es["spec"]["target"]["name"] == "plausible"
    assert es["metadata"]["name"] == "plausible-secrets"


def test_external_secret_when_type_set_templates_secret_type(render: Render) -> None:
    assert render()["spec"]["target"]["template"]["type"] == "Opaque"
    assert render(type="kubernetes.io/tls")["spec"]["target"]["template"]["type"] == "kubernetes.io/tls"


def test_external_secret_when_store_named_references_it_as_cluster_store(render: Render) -> None:
    es = render(settings_for("local", storeName="other-store"))
    assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "other-store"}


# --- ExternalSecret: data and dataFrom -----------------------------------------------------------


def test_external_secret_when_data_given_keeps_declaration_order(render: Render) -> None:
    es = render(data={"Z": "plausible/z", "A": "plausible/a", "M": "plausible/m"})
    assert [item["secretKey"] for item in es["spec"]["data"]] == ["Z", "A", "M"]
    assert [item["remoteRef"]["key"] for item in es["spec"]["data"]] == ["plausible/z", "plausible/a", "plausible/m"]


def test_external_secret_when_string_ref_reads_the_value_field_and_eso_defaults_explicitly(render: Render) -> None:
    """A KV secret is a map of fields: without a property ESO would write the whole map as JSON."""
    assert render()["spec"]["data"] == [
        {
            "secretKey": "SECRET_KEY_BASE",
            "remoteRef": {
                "key": "plausible/secret-key-base",
                "property": "value",
                "decodingStrategy": "None",
                "conversionStrategy": "Default",
                "metadataPolicy": "None",
            },
        }
    ]


def test_external_secret_when_every_ref_field_set_renders_each(render: Render) -> None:
    ref = RemoteRef(
        key="plausible/totp",
        property="key",
        version="7",
        decoding_strategy="Base64",
        conversion_strategy="Unicode",
        metadata_policy="Fetch",
    )
    assert render(data={"TOTP": ref})["spec"]["data"][0]["remoteRef"] == {
        "key": "plausible/totp",
        "property": "key",
        "version": "7",
        "decodingStrategy": "Base64",
        "conversionStrategy": "Unicode",
        "metadataPolicy": "Fetch",
    }


def test_external_secret_when_string_ref_and_stack_names_another_field_then_reads_that_field(render: Render) -> None:
    es = render(settings_for("local", stringRefProperty="secret"))
    assert es["spec"]["data"][0]["remoteRef"]["property"] == "secret"


@pytest.mark.parametrize("ref", [RemoteRef(key="plausible/blob"), {"key": "plausible/blob"}], ids=["RemoteRef", "dict"])
def test_external_secret_when_map_form_without_property_then_reads_the_whole_secret(render: Render, ref: Any) -> None:
    remote = render(data={"BLOB": ref, "ONE": "plausible/one"})["spec"]["data"]
    assert "property" not in remote[0]["remoteRef"]
    assert "version" not in remote[0]["remoteRef"]
    assert remote[1]["remoteRef"]["property"] == "value"  # the string form beside it still reads one field


def test_external_secret_when_data_from_given_renders_extract(render: Render) -> None:
    es = render(
        data={}, data_from=["plausible/all", RemoteRef(key="plausible/more", property="p", conversion_strategy="Unicode")]
    )
    assert "data" not in es["spec"]
    assert es["spec"]["dataFrom"] == [
        {
            "extract": {
                "key": "plausible/all",
                "decodingStrategy": "None",
                "conversionStrategy": "Default",
                "metadataPolicy": "None",
            }
        },
        {
            "extract": {
                "key": "plausible/more",
                "property": "p",
                "decodingStrategy": "None",
                "conversionStrategy": "Unicode",
                "metadataPolicy": "None",
            }
        },
    ]


def test_external_secret_when_no_data_from_omits_it(render: Render) -> None:
    assert "dataFrom" not in render()["spec"]


# --- ExternalSecret: refresh interval ------------------------------------------------------------


def test_external_secret_when_no_refresh_interval_uses_stack_default(render: Render) -> None:
    assert render(settings_for("local", refreshInterval="2h"))["spec"]["refreshInterval"] == "2h"


def test_external_secret_when_refresh_interval_set_overrides_stack_default(render: Render) -> None:
    assert render(settings_for("local", refreshInterval="2h"), refresh_interval="5m")["spec"]["refreshInterval"] == "5m"


def test_external_secret_when_refresh_interval_zero_keeps_sync_once(render: Render) -> None:
    """ "0" (sync once) is a real setting, not "unset"."""
    assert render(refresh_interval="0")["spec"]["refreshInterval"] == "0"


# --- ExternalSecret: labels and annotations ------------------------------------------------------


def test_external_secret_when_rendered_carries_ownership_labels_on_both_objects(render: Render) -> None:
    es = render()
    assert es["metadata"]["labels"] == PLATFORM_LABELS
    assert es["spec"]["target"]["template"]["metadata"]["labels"] == PLATFORM_LABELS


def test_external_secret_when_user_labels_set_merges_them_on_both_objects(render: Render) -> None:
    es = render(labels={"app.kubernetes.io/name": "plausible", "tier": "web"})
    expected = {"app.kubernetes.io/name": "plausible", "tier": "web", **PLATFORM_LABELS}
    assert es["metadata"]["labels"] == expected
    assert es["spec"]["target"]["template"]["metadata"]["labels"] == expected


def test_external_secret_when_user_annotations_set_lands_on_both_objects(render: Render) -> None:
    es = render(annotations={"ameide.example/contact": "analytics"})
    assert es["metadata"]["annotations"] == {"ameide.example/contact": "analytics", "ameide.io/key-prefix": "plausible/"}
    assert es["spec"]["target"]["template"]["metadata"]["annotations"] == {"ameide.example/contact": "analytics"}


def test_external_secret_when_no_user_annotations_template_has_none(render: Render) -> None:
    assert "annotations" not in render()["spec"]["target"]["template"]["metadata"]


def test_external_secret_when_key_prefix_overridden_annotates_that_prefix(render: Render) -> None:
    es = render(workload={"key_prefix": "shared/db/"}, data={"URL": "shared/db/url"})
    assert es["metadata"]["annotations"] == {"ameide.io/key-prefix": "shared/db/"}


def test_external_secret_when_default_prefix_annotates_workload_prefix(render: Render) -> None:
    assert render()["metadata"]["annotations"] == {"ameide.io/key-prefix": "plausible/"}


def test_external_secret_when_rotate_within_set_annotates_the_bound_on_the_external_secret_only(render: Render) -> None:
    es = render(rotate_within="30d")
    assert es["metadata"]["annotations"] == {"ameide.io/key-prefix": "plausible/", "ameide.io/rotate-within": "30d"}
    assert "annotations" not in es["spec"]["target"]["template"]["metadata"]


# --- ExternalSecret: Pulumi steering annotations (stack- and adoption-dependent) ------------------

PULUMI_ANNOTATIONS = (
    "pulumi.com/patchForce",
    "pulumi.com/deletionPropagationPolicy",
    "pulumi.com/waitFor",
    "pulumi.com/timeoutSeconds",
)


def test_external_secret_when_local_stack_adds_no_pulumi_annotations(render: Render) -> None:
    assert not set(PULUMI_ANNOTATIONS) & set(render()["metadata"]["annotations"])


@pytest.mark.parametrize(
    ("workload_adopt", "spec_adopt", "forced"),
    [(False, None, False), (True, None, True), (True, False, False), (False, True, True)],
)
def test_external_secret_when_adopted_forces_patch(
    render: Render, workload_adopt: bool, spec_adopt: bool | None, forced: bool
) -> None:
    """Taking over the legacy bundle's object needs patchForce; the spec's `adopt` beats the workload's."""
    annotations = render(workload={"adopt": workload_adopt}, adopt=spec_adopt)["metadata"]["annotations"]
    assert annotations.get("pulumi.com/patchForce") == ("true" if forced else None)


def test_external_secret_when_orphan_on_delete_keeps_secret(render: Render) -> None:
    annotations = render(settings_for("local", orphanSecretsOnDelete="true"))["metadata"]["annotations"]
    assert annotations["pulumi.com/deletionPropagationPolicy"] == "orphan"


def test_external_secret_when_waiting_requires_ready_and_secret_synced(render: Render) -> None:
    """Ready=True alone is also set for SecretDeleted / SecretMissing."""
    settings = settings_for("staging", readinessTimeoutSeconds="120")
    annotations = render(settings)["metadata"]["annotations"]
    assert json.loads(annotations["pulumi.com/waitFor"]) == [
        "condition=Ready",
        'jsonpath={.status.conditions[?(@.type=="Ready")].reason}=SecretSynced',
    ]
    assert annotations["pulumi.com/timeoutSeconds"] == "120"


def test_store_when_waiting_waits_for_ready(staging_settings: StackSettings) -> None:
    annotations = manifests.cluster_secret_store(staging_settings, ["ameide"])["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"


def test_store_when_not_waiting_has_no_annotations() -> None:
    assert "annotations" not in manifests.cluster_secret_store(settings_for("local"), ["ameide"])["metadata"]


# --- ExternalSecret: policies and template -------------------------------------------------------


def test_external_secret_when_defaults_renders_eso_defaults_explicitly(render: Render) -> None:
    target = render()["spec"]["target"]
    assert (target["creationPolicy"], target["deletionPolicy"]) == ("Owner", "Retain")
    assert (target["template"]["engineVersion"], target["template"]["mergePolicy"]) == ("v2", "Replace")


def test_external_secret_when_template_rendered_carries_no_data_templates(render: Render) -> None:
    """ESO writes the fetched keys as they are; the template only stamps type and metadata."""
    assert set(render()["spec"]["target"]["template"]) == {"type", "engineVersion", "mergePolicy", "metadata"}


@pytest.mark.parametrize("creation", ["Merge", "None", "CreateOrMerge"])
def test_external_secret_when_secret_owned_elsewhere_renders_no_template(render: Render, creation: str) -> None:
    target = render(creation_policy=creation)["spec"]["target"]
    assert "template" not in target
    assert (target["creationPolicy"], target["deletionPolicy"]) == (creation, "Retain")


def test_external_secret_when_orphan_still_templates_secret(render: Render) -> None:
    target = render(creation_policy="Orphan", type="kubernetes.io/tls")["spec"]["target"]
    assert target["creationPolicy"] == "Orphan"
    assert target["template"]["type"] == "kubernetes.io/tls"


@pytest.mark.parametrize("deletion", ["Delete", "Merge"])
def test_external_secret_when_deletion_policy_set_renders_it(render: Render, deletion: str) -> None:
    assert render(deletion_policy=deletion)["spec"]["target"]["deletionPolicy"] == deletion


# --- ClusterSecretStore --------------------------------------------------------------------------


def test_store_when_rendered_takes_vault_fields_from_settings() -> None:
    settings = settings_for(
        "staging",
        vaultKvMount="kv",
        vaultKvVersion="v1",
        vaultAuthMount="k8s-staging",
        vaultRole="eso",
        storeName="vault",
        authMode="shared",
        vaultAudience="",
    )
    store = manifests.cluster_secret_store(settings, ["ameide"])
    assert (store["apiVersion"], store["kind"], store["metadata"]["name"]) == (
        "external-secrets.io/v1",
        "ClusterSecretStore",
        "vault",
    )
    vault = store["spec"]["provider"]["vault"]
    assert (vault["server"], vault["path"], vault["version"]) == ("https://vault.vault.svc.cluster.local:8200", "kv", "v1")
    assert vault["auth"] == {
        "kubernetes": {
            "mountPath": "k8s-staging",
            "role": "eso",
            "serviceAccountRef": {"name": "ameide-vault-auth", "namespace": "external-secrets"},
        }
    }


def test_store_when_no_ca_configured_omits_ca_provider() -> None:
    assert "caProvider" not in manifests.cluster_secret_store(settings_for("local"), ["ameide"])["spec"]["provider"]["vault"]


def test_store_when_ca_configured_defaults_namespace_to_eso_namespace(staging_settings: StackSettings) -> None:
    vault = manifests.cluster_secret_store(staging_settings, ["ameide"])["spec"]["provider"]["vault"]
    assert vault["caProvider"] == {"type": "ConfigMap", "name": "vault-ca", "key": "ca.crt", "namespace": "external-secrets"}


def test_store_when_ca_namespace_set_uses_it() -> None:
    settings = settings_for(
        "staging", vaultCaKind="Secret", vaultCaName="vault-tls", vaultCaKey="ca.pem", vaultCaNamespace="vault"
    )
    vault = manifests.cluster_secret_store(settings, ["ameide"])["spec"]["provider"]["vault"]
    assert vault["caProvider"] == {"type": "Secret", "name": "vault-tls", "key": "ca.pem", "namespace": "vault"}


def test_store_when_namespaces_given_restricts_to_them_sorted_and_unique(staging_settings: StackSettings) -> None:
    store = manifests.cluster_secret_store(staging_settings, ["ameide", "billing", "ameide", "analytics"])
    assert store["spec"]["conditions"] == [{"namespaces": ["ameide", "analytics", "billing"]}]


def test_store_when_no_namespaces_admits_none(staging_settings: StackSettings) -> None:
    """An empty list must still render a condition: no conditions at all would open the store to every namespace."""
    assert manifests.cluster_secret_store(staging_settings, [])["spec"]["conditions"] == [{"namespaces": []}]


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_store_when_no_audience_omits_audiences() -> None:
    store = manifests.cluster_secret_store(settings_for("staging", vaultAudience=""), ["ameide"])
    ref = store["spec"]["provider"]["vault"]["auth"]["kubernetes"]
    assert "audiences" not in ref["serviceAccountRef"]


@pytest.mark.parametrize(
    ("mode", "ref"),
    [
        ("shared", {"name": "ameide-vault-auth", "namespace": "external-secrets", "audiences": ["vault"]}),
        # Without `namespace` ESO uses the account in each ExternalSecret's namespace (referent auth).
        ("referent", {"name": "ameide-vault-auth", "audiences": ["vault"]}),
    ],
)
def test_store_when_audience_defaulted_then_rendered_with_the_mode_s_account(mode: str, ref: dict[str, Any]) -> None:
    store = manifests.cluster_secret_store(settings_for("staging", authMode=mode), ["ameide"])
    assert store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"] == ref


@pytest.mark.parametrize("audience", ["https://kubernetes.default.svc.cluster.local", "https://k8s.example"])
def test_store_when_vault_outside_cluster_then_token_also_carries_the_api_server_audience(audience: str) -> None:
    """Vault outside the cluster reviews with ESO's own token: the API server must accept that token."""
    settings = settings_for("staging", vaultKubernetesCaCert=PEM, kubernetesAudience=audience)
    ref = manifests.cluster_secret_store(settings, ["ameide"])["spec"]["provider"]["vault"]["auth"]["kubernetes"]
    assert ref["serviceAccountRef"]["audiences"] == ["vault", audience]


# --- reviewer identity ---------------------------------------------------------------------------


def test_reviewer_service_account_when_shared_lives_in_eso_namespace_only() -> None:
    settings = settings_for("staging", reviewerServiceAccount="vault-auth", esoNamespace="eso", authMode="shared")
    [sa] = manifests.reviewer_service_accounts(settings, ["ameide", "monitoring"])
    assert (sa["apiVersion"], sa["kind"]) == ("v1", "ServiceAccount")
    assert (sa["metadata"]["name"], sa["metadata"]["namespace"]) == ("vault-auth", "eso")


def test_reviewer_service_accounts_when_referent_one_per_admitted_namespace() -> None:
    settings = settings_for("staging", reviewerServiceAccount="vault-auth", authMode="referent")
    accounts = manifests.reviewer_service_accounts(settings, ["monitoring", "ameide", "ameide"])
    assert [(a["metadata"]["namespace"], a["metadata"]["name"]) for a in accounts] == [
        ("ameide", "vault-auth"),
        ("monitoring", "vault-auth"),
    ]


def test_reviewer_bindings_when_vault_outside_cluster_and_shared_then_auth_delegator_for_reviewer() -> None:
    settings = settings_for(
        "staging", reviewerServiceAccount="vault-auth", esoNamespace="eso", authMode="shared", vaultKubernetesCaCert=PEM
    )
    [binding] = manifests.reviewer_bindings(settings, ["ameide"])
    assert (binding["apiVersion"], binding["kind"]) == ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "vault-auth", "namespace": "eso"}]


def test_reviewer_bindings_when_vault_outside_cluster_and_referent_then_every_admitted_namespace() -> None:
    [binding] = manifests.reviewer_bindings(settings_for("staging", vaultKubernetesCaCert=PEM), ["monitoring", "ameide"])
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ameide-vault-auth", "namespace": "ameide"},
        {"kind": "ServiceAccount", "name": "ameide-vault-auth", "namespace": "monitoring"},
    ]


@pytest.mark.parametrize("stack", ["local", "staging", "production"])
def test_reviewer_bindings_when_vault_runs_in_the_cluster_then_none(stack: str) -> None:
    """Vault in a pod reviews with its own identity: ESO's accounts need no cluster-wide right."""
    assert manifests.reviewer_bindings(settings_for(stack), ["ameide"]) == []


def test_store_when_referent_names_service_account_without_namespace() -> None:
    """ESO's referent auth: the account of that name in each ExternalSecret's own namespace."""
    ref = manifests.cluster_secret_store(settings_for("staging", authMode="referent", vaultAudience="vault"), ["ameide"])
    assert ref["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"] == {
        "name": "ameide-vault-auth",
        "audiences": ["vault"],
    }


# --- against the ESO v2.9 CRDs -------------------------------------------------------------------


def test_crds_when_maximal_external_secret_validates(crds: CrdSchemas, maximal: dict[str, Any]) -> None:
    assert crds.errors(maximal) == []


def test_crds_when_maximal_external_secret_has_every_default_rendered(crds: CrdSchemas, maximal: dict[str, Any]) -> None:
    assert crds.with_defaults(maximal) == maximal


@pytest.mark.parametrize("creation", ["Owner", "Orphan", "Merge", "None", "CreateOrMerge"])
def test_crds_when_any_creation_policy_validates_with_defaults_rendered(crds: CrdSchemas, render: Render, creation: str) -> None:
    es = render(creation_policy=creation, data_from=["plausible/all"])
    assert crds.errors(es) == []
    assert crds.with_defaults(es) == es


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        pytest.param("local", {}, id="no-ca-no-audience"),
        pytest.param("staging", {"vaultAudience": "vault", "vaultCaNamespace": "vault"}, id="ca-and-audience"),
        pytest.param("production", {"authMode": "referent"}, id="referent-auth"),
    ],
)
def test_crds_when_store_validates_with_defaults_rendered(crds: CrdSchemas, stack: str, overrides: dict[str, str]) -> None:
    store = manifests.cluster_secret_store(settings_for(stack, **overrides), ["ameide", "billing"])
    assert crds.errors(store) == []
    assert crds.with_defaults(store) == store


def test_crds_when_a_default_is_not_rendered_with_defaults_shows_it(crds: CrdSchemas, maximal: dict[str, Any]) -> None:
    """The default check can fail: a dropped default field is what the API server would add."""
    partial = copy.deepcopy(maximal)
    del partial["spec"]["target"]["template"]["mergePolicy"]
    del partial["spec"]["target"]["creationPolicy"]
    assert crds.errors(partial) == []
    assert crds.with_defaults(partial) == maximal


def test_crds_when_secret_key_renamed_reports_error(crds: CrdSchemas, maximal: dict[str, Any]) -> None:
    broken = copy.deepcopy(maximal)
    broken["spec"]["data"][0]["secretkey"] = broken["spec"]["data"][0].pop("secretKey")
    assert crds.errors(broken) != []


def test_crds_when_unknown_field_reports_it(crds: CrdSchemas, maximal: dict[str, Any]) -> None:
    broken = copy.deepcopy(maximal)
    broken["spec"]["data"][0]["remoteRef"]["decodeStrategy"] = "None"
    [error] = crds.errors(broken)
    assert "decodeStrategy" in error


def test_crds_when_store_field_unknown_reports_it(crds: CrdSchemas, staging_settings: StackSettings) -> None:
    store = manifests.cluster_secret_store(staging_settings, ["ameide"])
    store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["mount"] = store["spec"]["provider"]["vault"]["auth"][
        "kubernetes"
    ].pop("mountPath")
    assert crds.errors(store) != []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "target", "creationPolicy"), "Sometimes"),
        (("spec", "target", "deletionPolicy"), "Never"),
        (("spec", "secretStoreRef", "kind"), "VaultStore"),
    ],
)
def test_crds_when_enum_value_unknown_reports_it(
    crds: CrdSchemas, maximal: dict[str, Any], path: tuple[str, ...], value: str
) -> None:
    broken = copy.deepcopy(maximal)
    node = broken
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    [error] = crds.errors(broken)
    assert path[-1] in error


def test_crds_when_decoding_strategy_unknown_reports_it(crds: CrdSchemas, maximal: dict[str, Any]) -> None:
    broken = copy.deepcopy(maximal)
    broken["spec"]["data"][0]["remoteRef"]["decodingStrategy"] = "Hex"
    assert crds.errors(broken) != []


def test_crds_when_api_version_v1beta1_reports_unserved(crds: CrdSchemas, maximal: dict[str, Any]) -> None:
    broken = {**maximal, "apiVersion": "external-secrets.io/v1beta1"}
    assert crds.errors(broken) == [
        "apiVersion 'external-secrets.io/v1beta1' is not served by ESO 2.9 (use external-secrets.io/v1)"
    ]
