"""Guardrail rules over rendered manifests: each rule catches what it must, and only that."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from ameide_secrets.findings import Finding
from ameide_secrets.offline import preview
from ameide_secrets.project import REPOSITORY, Project
from ameide_secrets.rules import guardrails, tenancy

from helpers import STACKS, external_secret_manifest, store_manifest

Manifest = dict[str, Any]


def edited(change: Callable[[Manifest], Any], namespace: str = "ameide") -> list[Manifest]:
    """The platform store and one ExternalSecret in `namespace` (admitted), after `change` to the ExternalSecret."""
    es = external_secret_manifest(namespace)
    change(es)
    return [store_manifest([namespace]), es]


def spec(es: Manifest) -> Manifest:
    return es["spec"]


SECRET: Manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "ameide"}, "type": "Opaque"}

# The stacks' refreshIntervalFloor default: the breaking and valid cases are judged as a stack judges them.
FLOOR = "1m"
# What the cases are judged against: plausible's team is granted every namespace they use (so each case
# breaks only its own rule; the registry's own validation refuses system namespaces) and one Merge target.
REGISTRY = tenancy.Registry(
    {
        "analytics": tenancy.TeamGrant(
            namespaces=("ameide", "billing", "kube-system", "kube-public", "default", "external-secrets", ""),
            workloads=("plausible",),
            merge_into=("ameide/plausible-secrets",),
        )
    }
)


def _reads_keycloak(es: Manifest) -> None:
    """Every key moved under keycloak/ and the annotation forged to match: only the registry can tell."""
    es["metadata"]["annotations"]["ameide.io/key-prefix"] = "keycloak/"
    for entry in spec(es)["data"]:
        entry["remoteRef"]["key"] = entry["remoteRef"]["key"].replace("plausible/", "keycloak/", 1)


BREAKING: list[Any] = [
    pytest.param("external-secret-refresh-floor", edited(lambda es: spec(es).update(refreshInterval="1ns")), id="refresh-1ns"),
    pytest.param(
        "external-secret-refresh-floor", edited(lambda es: spec(es).update(refreshInterval="0.000001ms")), id="refresh-tiny-ms"
    ),
    pytest.param("eso-api-version", edited(lambda es: es.update(apiVersion="external-secrets.io/v1beta1")), id="es-v1beta1"),
    pytest.param("eso-api-version", [{**store_manifest(), "apiVersion": "external-secrets.io/v1beta1"}], id="store-v1beta1"),
    pytest.param(
        "eso-kind-allowed",
        [
            {
                "apiVersion": "external-secrets.io/v1",
                "kind": "ClusterExternalSecret",
                "metadata": {"name": "everywhere"},
                "spec": {},
            }
        ],
        id="cluster-external-secret",
    ),
    pytest.param(
        "external-secret-store-ref", edited(lambda es: spec(es)["secretStoreRef"].update(kind="SecretStore")), id="kind"
    ),
    pytest.param("external-secret-store-ref", edited(lambda es: spec(es)["secretStoreRef"].update(name="other")), id="name"),
    pytest.param(
        "external-secret-store-ref", edited(lambda es: spec(es)["secretStoreRef"].pop("kind")), id="kind-defaults-to-secretstore"
    ),
    pytest.param(
        "external-secret-store-ref",
        edited(lambda es: spec(es)["data"][0].update(sourceRef={"storeRef": {"kind": "ClusterSecretStore", "name": "other"}})),
        id="data-source-store",
    ),
    pytest.param(
        "external-secret-store-ref",
        edited(lambda es: spec(es).update(dataFrom=[{"sourceRef": {"generatorRef": {"kind": "Password", "name": "pw"}}}])),
        id="generator",
    ),
    pytest.param("external-secret-namespace", [external_secret_manifest(namespace=None)], id="cluster-scoped"),
    *(
        pytest.param("external-secret-namespace", edited(lambda es: None, namespace), id=namespace)
        for namespace in ("kube-system", "kube-public", "default", "external-secrets")
    ),
    pytest.param(
        "store-platform-only",
        [
            {
                "apiVersion": "external-secrets.io/v1",
                "kind": "SecretStore",
                "metadata": {"name": "team", "namespace": "ameide"},
                "spec": {},
            }
        ],
        id="secret-store",
    ),
    pytest.param("store-platform-only", [{**store_manifest(), "metadata": {"name": "team-vault"}}], id="other-cluster-store"),
    pytest.param("store-conditions", [store_manifest(conditions=[])], id="no-conditions"),
    pytest.param("store-conditions", [store_manifest(conditions=[{"namespaceSelector": {}}])], id="empty-selector"),
    pytest.param("store-admits-namespace", [store_manifest(["ameide"]), external_secret_manifest("billing")], id="not-listed"),
    pytest.param(
        "store-admits-namespace",
        [
            store_manifest(conditions=[{"namespaceSelector": {"matchLabels": {"vault": "yes"}}}]),
            external_secret_manifest("billing"),
        ],
        id="selector-unverifiable",
    ),
    pytest.param(
        "external-secret-key-prefix", edited(lambda es: spec(es)["data"][0]["remoteRef"].update(key="growth/x")), id="data"
    ),
    pytest.param(
        "external-secret-key-prefix",
        edited(lambda es: spec(es)["data"][0]["remoteRef"].update(key="plausible/../growth/x")),
        id="dotdot",
    ),
    pytest.param(
        "external-secret-key-prefix",
        edited(lambda es: spec(es).update(dataFrom=[{"extract": {"key": "growth/all"}}])),
        id="extract",
    ),
    pytest.param(
        "external-secret-key-prefix",
        edited(lambda es: spec(es).update(dataFrom=[{"find": {"name": {"regexp": ".*"}}}])),
        id="find-no-path",
    ),
    pytest.param("external-secret-key-prefix", edited(lambda es: es["metadata"].pop("annotations")), id="no-annotation"),
    pytest.param(
        "external-secret-key-prefix",
        edited(lambda es: es["metadata"]["annotations"].update({"ameide.io/key-prefix": "plausible"})),
        id="bad-annotation",
    ),
    pytest.param("external-secret-labels", edited(lambda es: es["metadata"]["labels"].pop("ameide.io/team")), id="team"),
    pytest.param("external-secret-labels", edited(lambda es: es["metadata"]["labels"].pop("ameide.io/workload")), id="workload"),
    pytest.param(
        "external-secret-labels",
        edited(lambda es: es["metadata"]["labels"].update({"app.kubernetes.io/managed-by": "Helm"})),
        id="managed-by",
    ),
    pytest.param("external-secret-data-required", edited(lambda es: spec(es).pop("data")), id="no-data"),
    pytest.param(
        "external-secret-deletion-policy",
        edited(lambda es: spec(es)["target"].update(creationPolicy="Merge", deletionPolicy="Delete")),
        id="delete-merge",
    ),
    pytest.param(
        "external-secret-deletion-policy",
        edited(lambda es: spec(es)["target"].update(creationPolicy="Orphan", deletionPolicy="Delete")),
        id="delete-orphan",
    ),
    pytest.param(
        "external-secret-deletion-policy",
        edited(lambda es: spec(es)["target"].update(creationPolicy="None", deletionPolicy="Merge")),
        id="merge-none",
    ),
    pytest.param(
        "external-secret-duplicate-secret-key",
        edited(lambda es: spec(es)["data"][1].update(secretKey="SECRET_KEY_BASE")),
        id="duplicate",
    ),
    pytest.param(
        "external-secret-target-reserved",
        edited(lambda es: spec(es)["target"].update(name="sh.helm.release.v1.web.v3", deletionPolicy="Delete")),
        id="helm-release",
    ),
    pytest.param(
        "external-secret-target-reserved",
        edited(lambda es: spec(es)["target"].update(name="default-token-x7k2q", creationPolicy="Orphan")),
        id="service-account-token",
    ),
    pytest.param(
        "external-secret-granted",
        edited(lambda es: es["metadata"]["labels"].update({"ameide.io/workload": "billing"})),
        id="workload",
    ),
    pytest.param("external-secret-granted", edited(lambda es: None, "growth"), id="namespace"),
    pytest.param("external-secret-granted", edited(_reads_keycloak), id="forged-prefix"),
    pytest.param(
        "external-secret-granted",
        edited(lambda es: spec(es)["target"].update(name="keycloak-db", creationPolicy="Merge")),
        id="merge-target",
    ),
    pytest.param(
        "external-secret-granted",
        edited(lambda es: spec(es)["target"].update(name="keycloak-db", creationPolicy="CreateOrMerge")),
        id="create-or-merge-target",
    ),
    pytest.param("secret-literal-data", [{**SECRET, "data": {"password": "aHVudGVyMg=="}}], id="data"),
    pytest.param("secret-literal-data", [{**SECRET, "stringData": {"password": "hunter2"}}], id="stringData"),
]

VALID: list[Any] = [
    pytest.param([store_manifest(), external_secret_manifest()], id="store-and-external-secret"),
    pytest.param([store_manifest(["billing"]), external_secret_manifest("billing")], id="other-namespace-listed"),
    pytest.param(
        [store_manifest(conditions=[{"namespaceRegexes": ["^bill"]}]), external_secret_manifest("billing")], id="namespace-regex"
    ),
    pytest.param([external_secret_manifest()], id="store-managed-elsewhere"),
    pytest.param(edited(lambda es: spec(es).update(dataFrom=[{"extract": {"key": "plausible/all"}}])), id="extract"),
    pytest.param(edited(lambda es: spec(es).update(dataFrom=[{"find": {"path": "plausible/db"}}])), id="find-under-prefix"),
    pytest.param(edited(lambda es: spec(es).pop("target")), id="eso-default-policies"),
    pytest.param(edited(lambda es: spec(es)["target"].update(deletionPolicy="Delete")), id="delete-with-owner"),
    # ESO's default creationPolicy is Owner: Delete with it unset is valid.
    pytest.param(
        edited(lambda es: spec(es).update(target={"name": "plausible-secrets", "deletionPolicy": "Delete"})),
        id="delete-with-default-creation",
    ),
    # ESO's namespaceRegexes are unanchored: "ill" admits "billing".
    pytest.param(
        [store_manifest(conditions=[{"namespaceRegexes": ["ill"]}]), external_secret_manifest("billing")], id="regex-mid-name"
    ),
    pytest.param(
        [
            store_manifest(
                conditions=[
                    {"namespaces": ["ameide"]},
                    {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]}},
                ]
            ),
            external_secret_manifest(),
        ],
        id="selector-with-match-expressions-only",
    ),
    pytest.param(edited(lambda es: spec(es)["target"].update(creationPolicy="Merge", deletionPolicy="Merge")), id="merge-merge"),
    # A name like a token's, but not of the token controller's alphabet and length; and None writes nothing.
    pytest.param(edited(lambda es: spec(es)["target"].update(name="api-token-secret")), id="token-like-name"),
    pytest.param(
        edited(lambda es: spec(es)["target"].update(name="sh.helm.release.v1.web.v3", creationPolicy="None")),
        id="none-writes-nothing",
    ),
    # The platform's informational annotation of a declared `rotate_within` is the platform's own, not a team's.
    pytest.param(edited(lambda es: es["metadata"]["annotations"].update({"ameide.io/rotate-within": "90d"})), id="rotate-within"),
    pytest.param([SECRET, {**SECRET, "data": {}}], id="secret-without-values"),
    pytest.param(
        [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "ameide-vault-auth", "namespace": "external-secrets"},
            }
        ],
        id="other-kinds",
    ),
]


@pytest.mark.parametrize(("rule", "manifests"), BREAKING)
def test_check_when_manifest_breaks_a_rule_then_exactly_that_rule_is_reported(rule: str, manifests: list[Manifest]) -> None:
    assert [v.rule for v in guardrails.check(copy.deepcopy(manifests), refresh_interval_floor=FLOOR, registry=REGISTRY)] == [rule]


@pytest.mark.parametrize("manifests", VALID)
def test_check_when_manifests_valid_then_no_violation(manifests: list[Manifest]) -> None:
    assert guardrails.check(copy.deepcopy(manifests), refresh_interval_floor=FLOOR, registry=REGISTRY) == []


@pytest.mark.parametrize("interval", ["0", "1m", "90s", "1h30m"])
def test_refresh_floor_when_at_or_above_it_or_read_once_then_no_violation(interval: str) -> None:
    manifests = edited(lambda es: spec(es).update(refreshInterval=interval))
    assert guardrails.check(manifests, refresh_interval_floor=FLOOR) == []


def test_rules_when_listed_then_every_rule_has_a_breaking_case() -> None:
    assert {p.values[0] for p in BREAKING} == {rule.id for rule in guardrails.RULES}


def test_rules_when_listed_then_ids_are_unique_kebab_case() -> None:
    ids = [rule.id for rule in guardrails.RULES]
    assert len(ids) == len(set(ids))
    assert all(part.isalnum() and part.islower() for rule_id in ids for part in rule_id.split("-"))


@pytest.mark.parametrize("stack", STACKS)
def test_check_when_real_stack_rendered_then_no_violation(stack: str) -> None:
    assert guardrails.check(preview.kubernetes_objects(preview.preview(Project(), stack))) == []


def test_check_when_key_outside_prefix_then_message_names_field_key_and_fix() -> None:
    [violation] = guardrails.check(edited(lambda es: spec(es)["data"][1]["remoteRef"].update(key="growth/db")))
    assert violation == Finding(
        "spec.data[1].remoteRef.key 'growth/db' is outside the workload's prefix 'plausible/' (use a key under plausible/; another prefix needs a key_prefix under one the platform grants your team in platform/tenants.yaml)",
        object="ExternalSecret/ameide/plausible-secrets",
        rule="external-secret-key-prefix",
    )
    assert str(violation).startswith("external-secret-key-prefix: ExternalSecret/ameide/plausible-secrets: spec.data[1]")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda es: spec(es).update(dataFrom=[{"sourceRef": {"generatorRef": {"kind": "Password", "name": "pw"}}}]),
         "spec.dataFrom[0].sourceRef uses a generator, not Vault"),
        (lambda es: spec(es)["data"][0].update(sourceRef={"storeRef": {"kind": "ClusterSecretStore", "name": "other"}}),
         "spec.data[0].sourceRef references ClusterSecretStore 'other', not the platform's ClusterSecretStore 'ameide-vault'"),
        (lambda es: spec(es)["secretStoreRef"].pop("kind"),
         "spec.secretStoreRef references SecretStore 'ameide-vault', not the platform's ClusterSecretStore 'ameide-vault'"),
    ],
)  # fmt: skip
def test_check_when_reading_elsewhere_than_the_platform_store_then_message_says_where(change: Any, message: str) -> None:
    [violation] = guardrails.check(edited(change))
    assert violation.message.startswith(message)


def test_check_when_cluster_scoped_object_then_resource_is_kind_and_name() -> None:
    [violation] = guardrails.check([store_manifest(conditions=[])])
    assert violation.object == "ClusterSecretStore/ameide-vault"


def test_check_when_store_name_and_eso_namespace_given_then_rules_use_them() -> None:
    manifests = [{**store_manifest(["eso"]), "metadata": {"name": "vault"}}, external_secret_manifest("eso")]
    violations = guardrails.check(manifests, store_name="vault", eso_namespace="eso")
    assert {(v.rule, v.object) for v in violations} == {
        ("external-secret-store-ref", "ExternalSecret/eso/plausible-secrets"),
        ("external-secret-namespace", "ExternalSecret/eso/plausible-secrets"),
    }


def test_check_when_several_objects_share_a_namespace_then_one_violation_each() -> None:
    other = external_secret_manifest("billing")
    other["metadata"]["name"] = "plausible-extra"
    violations = guardrails.check([store_manifest(["ameide"]), external_secret_manifest("billing"), other])
    assert [v.object for v in violations] == [
        "ExternalSecret/billing/plausible-secrets",
        "ExternalSecret/billing/plausible-extra",
    ]


def test_defaults_when_compared_with_pulumi_yaml_then_they_are_the_project_defaults() -> None:
    config = yaml.safe_load((REPOSITORY / "Pulumi.yaml").read_text())["config"]
    assert (
        config["storeName"]["default"],
        config["esoNamespace"]["default"],
    ) == (guardrails.DEFAULT_STORE_NAME, guardrails.DEFAULT_ESO_NAMESPACE)
