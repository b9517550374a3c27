"""recovery.py over sample `pulumi stack export` documents (the real engine runs it in tests/e2e/test_faults.py)."""

from __future__ import annotations

import pytest

from ameide_secrets import recovery
from ameide_secrets.project import Project

from helpers import stack_export, state_resource

STACK = Project().stack("staging")
PREFIX = "urn:pulumi:staging::ameide-secrets::"
ES_TYPE = "kubernetes:external-secrets.io/v1:ExternalSecret"
ES_URN = f"{PREFIX}ameide:secrets:WorkloadSecrets${ES_TYPE}::ameide/keycloak-db"
STORE_TYPE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
STORE_URN = f"{PREFIX}ameide:secrets:PlatformSecretAccess${STORE_TYPE}::ameide-vault"
POLICY_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING_TYPE = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
BINDING_URN = f"{PREFIX}ameide:secrets:PlatformSecretAccess${BINDING_TYPE}::ameide-vault-external-secrets"
ACCOUNT_TYPE = "kubernetes:core/v1:ServiceAccount"
ACCOUNT_URN = f"{PREFIX}ameide:secrets:PlatformSecretAccess${ACCOUNT_TYPE}::monitoring/ameide-vault-auth"
PROVIDER_URN = f"{PREFIX}pulumi:providers:kubernetes::kubernetes"
COMPONENT_URN = f"{PREFIX}ameide:secrets:WorkloadSecrets::keycloak"
STRAY_URN = f"{PREFIX}ameide:secrets:WorkloadSecrets${ES_TYPE}::ameide/no-module-declares-this"


def test_pulumi_type_when_core_or_grouped_kind_then_provider_token() -> None:
    assert recovery.pulumi_type({"apiVersion": "v1", "kind": "ServiceAccount"}) == ACCOUNT_TYPE
    assert recovery.pulumi_type({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret"}) == ES_TYPE


def test_object_id_when_namespaced_or_cluster_scoped_then_provider_id() -> None:
    assert recovery.object_id({"metadata": {"namespace": "ameide", "name": "keycloak-db"}}) == "ameide/keycloak-db"
    assert recovery.object_id({"metadata": {"name": "ameide-vault"}}) == "ameide-vault"


def test_own_objects_when_every_object_of_the_stack_then_each_type_and_name_once() -> None:
    own = recovery.own_objects(STACK)
    assert len(own) == len(STACK.objects)
    # A policy and its binding share a logical name: the type tells them apart.
    assert {(POLICY_TYPE, "ameide-vault-external-secrets"), (BINDING_TYPE, "ameide-vault-external-secrets")} <= set(own)


def test_plan_when_no_pending_operation_then_empty() -> None:
    assert recovery.plan(stack_export([]), STACK).empty
    assert recovery.plan({"deployment": {"resources": []}}, STACK).empty


def test_plan_when_own_objects_pending_create_then_imported_with_their_ids() -> None:
    planned = recovery.plan(
        stack_export(
            [(ES_URN, ES_TYPE, "creating"), (STORE_URN, STORE_TYPE, "creating"), (ACCOUNT_URN, ACCOUNT_TYPE, "creating")]
        ),
        STACK,
    )
    assert [(i.pending.urn, i.id) for i in planned.imports] == [
        (ES_URN, "ameide/keycloak-db"),
        (STORE_URN, "ameide-vault"),
        (ACCOUNT_URN, "monitoring/ameide-vault-auth"),
    ]
    assert planned.cleared == ()
    assert planned.settled == ()


def test_plan_when_pending_create_is_no_object_of_the_stack_then_cleared() -> None:
    planned = recovery.plan(
        stack_export([
            (PROVIDER_URN, "pulumi:providers:kubernetes", "creating"),
            (COMPONENT_URN, "ameide:secrets:WorkloadSecrets", "creating"),
            (STRAY_URN, ES_TYPE, "creating"),
            # The store's name under another type: not an object of the stack.
            (STORE_URN.replace(STORE_TYPE, ES_TYPE), ES_TYPE, "creating"),
        ]),
        STACK,
    )  # fmt: skip
    assert planned.imports == ()
    assert [p.urn for p in planned.cleared] == [
        PROVIDER_URN,
        COMPONENT_URN,
        STRAY_URN,
        STORE_URN.replace(STORE_TYPE, ES_TYPE),
    ]


def test_plan_when_pending_create_urn_already_recorded_then_cleared_not_imported() -> None:
    """A replacement's new half: the recorded entry stands for the object; a second one would duplicate the URN."""
    document = stack_export([(ES_URN, ES_TYPE, "creating")], [state_resource(ES_URN, ES_TYPE, id="ameide/keycloak-db")])
    planned = recovery.plan(document, STACK)
    assert planned.imports == ()
    assert [p.urn for p in planned.cleared] == [ES_URN]


@pytest.mark.parametrize("operation", ["updating", "deleting", "reading", "importing"])
def test_plan_when_other_pending_operation_then_left_to_refresh(operation: str) -> None:
    planned = recovery.plan(stack_export([(ES_URN, ES_TYPE, operation)]), STACK)
    assert [(p.urn, p.operation) for p in planned.settled] == [(ES_URN, operation)]
    assert planned.imports == ()
    assert planned.cleared == ()


def test_recovered_when_planned_then_own_creates_become_resources_and_no_operation_stays_pending() -> None:
    document = stack_export([
        (ES_URN, ES_TYPE, "creating"),
        (COMPONENT_URN, "ameide:secrets:WorkloadSecrets", "creating"),
        (BINDING_URN, BINDING_TYPE, "updating"),
    ])  # fmt: skip
    edited = recovery.recovered(document, recovery.plan(document, STACK))
    deployment = edited["deployment"]
    assert [(r["urn"], r.get("id")) for r in deployment["resources"]] == [(PROVIDER_URN, None), (ES_URN, "ameide/keycloak-db")]
    # The pending create's inputs are kept: the refresh reads the object against them.
    assert deployment["resources"][-1]["inputs"] == document["deployment"]["pending_operations"][0]["resource"]["inputs"]
    # The pending update's resource is recorded already; `pulumi stack import` would drop the operation anyway.
    assert deployment["pending_operations"] == []
    # The export itself is left as it was.
    assert len(document["deployment"]["pending_operations"]) == 3
    assert recovery.plan(edited, STACK).imports == ()


def test_pending_when_printed_then_type_and_logical_name() -> None:
    assert str(recovery.pending_operations(stack_export([(ES_URN, ES_TYPE, "creating")]))[0]) == f"{ES_TYPE} ameide/keycloak-db"
