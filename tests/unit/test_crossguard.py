"""The policy pack's wrappers, called as the analyzer calls them, without the CLI.

Constructing a real PolicyPack starts a gRPC server and blocks: no test does.
"""

from __future__ import annotations

import contextvars
import json
import subprocess
import sys
from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from ameide_secrets.crossguard import pack_policies, stack_platform
from ameide_secrets.project import REPOSITORY, Project
from ameide_secrets.rules import guardrails
from ameide_secrets.rules.guardrails import Platform

from helpers import external_secret_manifest, store_manifest

ES_TYPE = "kubernetes:external-secrets.io/v1:ExternalSecret"
STORE_TYPE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:staging::ameide-secrets::{resource_type}::{name}"


def by_name(platform: Platform | None = None) -> dict[str, Any]:
    return {policy.name: policy for policy in pack_policies(platform or Platform())}


def validate_resource(policy: ResourceValidationPolicy, resource_type: str, props: dict[str, Any]) -> list[str]:
    """Run one resource policy as the analyzer does (props behind the SDK's unknown-checking proxy)."""
    reported: list[str] = []

    def report(message: str, _urn: str | None = None) -> None:
        reported.append(message)

    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(props), urn(resource_type, "x"), "x", OPTIONS, None)
    policy.validate(args, report)
    return reported


def validate_stack(
    policy: StackValidationPolicy, resources: list[tuple[str, str, dict[str, Any]]]
) -> list[tuple[str, str | None]]:
    """Run one stack policy over (type, name, props) resources; returns (message, urn) pairs."""
    reported: list[tuple[str, str | None]] = []

    def report(message: str, resource_urn: str | None = None) -> None:
        reported.append((message, resource_urn))

    stack = [
        PolicyResource(t, unknown_checking_proxy(props), urn(t, name), name, OPTIONS, None, None, [], {})
        for t, name, props in resources
    ]
    policy.validate(StackValidationArgs(stack), report)
    return reported


def test_pack_policies_when_built_then_one_mandatory_policy_per_rule() -> None:
    built = pack_policies(Platform())
    assert [p.name for p in built] == [rule.id for rule in guardrails.RULES]
    assert {p.enforcement_level for p in built} == {EnforcementLevel.MANDATORY}
    assert [p.description for p in built] == [rule.description for rule in guardrails.RULES]


def test_pack_policies_when_rule_needs_every_object_then_it_is_a_stack_policy() -> None:
    kinds = {p.name: type(p) for p in pack_policies(Platform())}
    assert kinds == {rule.id: StackValidationPolicy if rule.stack else ResourceValidationPolicy for rule in guardrails.RULES}
    assert kinds["store-admits-namespace"] is StackValidationPolicy


def test_resource_policy_when_key_outside_prefix_then_reports_the_rule_message() -> None:
    es = external_secret_manifest()
    es["spec"]["data"][0]["remoteRef"]["key"] = "growth/x"
    reported = validate_resource(by_name()["external-secret-key-prefix"], ES_TYPE, es)
    assert reported == [next(v.message for v in guardrails.check([es]))]


def test_resource_policy_when_object_valid_then_no_policy_reports() -> None:
    for policy in by_name().values():
        if isinstance(policy, ResourceValidationPolicy):
            assert validate_resource(policy, ES_TYPE, external_secret_manifest()) == []
            assert validate_resource(policy, STORE_TYPE, store_manifest()) == []


def test_resource_policy_when_typed_secret_has_literal_data_then_reports() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "ameide"},
        "stringData": {"password": "x"},
    }
    [message] = validate_resource(by_name()["secret-literal-data"], "kubernetes:core/v1:Secret", secret)
    assert "stringData" in message


def test_resource_policy_when_not_a_kubernetes_object_then_ignored() -> None:
    props = {"kind": "Secret", "apiVersion": "v1", "data": {"x": "y"}}
    assert validate_resource(by_name()["secret-literal-data"], "random:index/randomPassword:RandomPassword", props) == []


def test_resource_policy_when_server_fields_unknown_during_preview_then_still_judged() -> None:
    es = {**external_secret_manifest(), "status": UNKNOWN_OBJECT_VALUE}
    es["metadata"]["uid"] = UNKNOWN_STRING_VALUE
    es["spec"]["secretStoreRef"]["name"] = "other"
    assert len(validate_resource(by_name()["external-secret-store-ref"], ES_TYPE, es)) == 1


def test_stack_policy_when_namespace_not_admitted_then_reports_on_the_externalsecret() -> None:
    resources = [
        (STORE_TYPE, "ameide-vault", store_manifest(["ameide"])),
        (ES_TYPE, "ameide/plausible-secrets", external_secret_manifest("ameide")),
        (ES_TYPE, "billing/plausible-secrets", external_secret_manifest("billing")),
        ("pulumi:providers:kubernetes", "kubernetes", {"context": "ameide-staging"}),
    ]
    [(message, resource_urn)] = validate_stack(by_name()["store-admits-namespace"], resources)
    assert "namespace 'billing' is not admitted" in message
    assert resource_urn == urn(ES_TYPE, "billing/plausible-secrets")


def test_stack_policy_when_every_namespace_admitted_then_no_report() -> None:
    resources = [
        (STORE_TYPE, "ameide-vault", store_manifest(["ameide"])),
        (ES_TYPE, "ameide/plausible-secrets", external_secret_manifest()),
    ]
    assert validate_stack(by_name()["store-admits-namespace"], resources) == []


def test_pack_policies_when_platform_given_then_rules_use_its_store_name() -> None:
    reported = validate_resource(
        by_name(Platform(store_name="vault"))["external-secret-store-ref"], ES_TYPE, external_secret_manifest()
    )
    assert len(reported) == 1
    assert "'vault'" in reported[0]


def test_stack_platform_when_stack_config_sets_store_then_uses_it() -> None:
    def read() -> Platform:
        pulumi.runtime.set_all_config({"ameide-secrets:storeName": "vault", "ameide-secrets:esoNamespace": "eso"})
        return stack_platform(Project())

    # A copied context keeps this test's config away from every other test.
    assert contextvars.copy_context().run(read) == Platform("vault", "eso", "1m", Project().registry)


def test_stack_platform_when_config_unset_then_project_defaults() -> None:
    def read() -> Platform:
        pulumi.runtime.set_all_config({})
        return stack_platform(Project())

    assert contextvars.copy_context().run(read) == Platform(refresh_interval_floor="1m", registry=Project().registry)


def test_pack_main_when_run_by_the_cli_from_policy_dir_then_builds_a_mandatory_pack_of_every_rule() -> None:
    """As `pulumi preview --policy-pack policy` runs it: runpy on the directory, repository not on sys.path."""
    script = (
        "import json, runpy, pulumi_policy\n"
        "class Recorder:\n"
        "    def __init__(self, name, policies, enforcement_level):\n"
        "        print(json.dumps([name, [p.name for p in policies], enforcement_level.value]))\n"
        "pulumi_policy.PolicyPack = Recorder\n"
        "runpy.run_path('.', run_name='__main__')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPOSITORY / "policy", capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == ["ameide-secrets-guardrails", [rule.id for rule in guardrails.RULES], "mandatory"]
