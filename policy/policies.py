"""Each rule of `rules/policies.py` as a mandatory pulumi-policy; the rules stay there.

Rules judged one object at a time run per resource, so a violation points at its resource;
rules that need every object (`Rule.stack`) run once over the stack's Kubernetes objects.
Importable without the Pulumi CLI: only `policy/__main__.py` constructs the PolicyPack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from declarations.settings import PROJECT
from rules import policies
from rules.policies import Manifest, Platform, Rule


def plain(value: Any) -> Any:
    """The policy SDK's read-only proxies as plain dicts and lists, without values unknown in preview."""
    # Unknown during preview are server-computed fields (uid, status); the rules read only what the
    # program sets, and must still run for the rest of the object.
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                continue
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                continue
        return items
    return value


def kubernetes_object(resource_type: str, props: Mapping[str, Any]) -> Manifest | None:
    """A resource's props as a Kubernetes manifest, or None for anything that is not an object."""
    if not resource_type.startswith("kubernetes:") or "kind" not in props:
        return None
    manifest: Manifest = plain(props)
    return manifest


def stack_platform() -> Platform:
    """The platform store and ESO namespace of the stack under preview (its config), else the project defaults."""
    config = pulumi.Config(PROJECT)
    return Platform(
        store_name=config.get("storeName") or policies.DEFAULT_STORE_NAME,
        eso_namespace=config.get("esoNamespace") or policies.DEFAULT_ESO_NAMESPACE,
    )


def resource_policy(rule: Rule, platform: Platform) -> ResourceValidationPolicy:
    """`rule` judged on each Kubernetes object on its own."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        manifest = kubernetes_object(args.resource_type, args.props)
        if manifest is not None:
            for violation in rule.check([manifest], platform):
                report_violation(violation.message, None)

    return ResourceValidationPolicy(rule.id, rule.description, validate, EnforcementLevel.MANDATORY)


def stack_policy(rule: Rule, platform: Platform) -> StackValidationPolicy:
    """`rule` judged on every Kubernetes object of the stack at once; violations name their resource."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        urns: dict[str, str] = {}
        manifests: list[Manifest] = []
        for resource in args.resources:
            manifest = kubernetes_object(resource.resource_type, resource.props)
            if manifest is not None:
                manifests.append(manifest)
                urns[policies.resource_id(manifest)] = resource.urn
        for violation in rule.check(manifests, platform):
            report_violation(violation.message, urns.get(violation.resource))

    return StackValidationPolicy(rule.id, rule.description, validate, EnforcementLevel.MANDATORY)


def pack_policies(platform: Platform | None = None) -> list[Policy]:
    """One mandatory policy per guardrail rule, for `platform` (default: the stack's)."""
    platform = platform or stack_platform()
    return [stack_policy(rule, platform) if rule.stack else resource_policy(rule, platform) for rule in policies.RULES]
