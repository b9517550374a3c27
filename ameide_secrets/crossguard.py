"""The CrossGuard pack's policies: each guardrail of `rules/guardrails.py` as a mandatory pulumi-policy.

Rules judged one object at a time run per resource, so a violation points at its resource;
rules that need every object (`Rule.stack`) run once over the stack's Kubernetes objects.
Importable without the Pulumi CLI: only `policy/__main__.py` constructs the PolicyPack (`pack`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from ameide_secrets.declare.settings import PROJECT
from ameide_secrets.project import Project
from ameide_secrets.rules import guardrails
from ameide_secrets.rules.guardrails import Manifest, Platform, Rule


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


def stack_platform(project: Project) -> Platform:
    """The platform store, ESO namespace and floor of the stack under preview (its config), else the project's
    defaults, and the project's access registry."""
    config = pulumi.Config(PROJECT)
    return Platform(
        store_name=config.get("storeName") or project.defaults[f"{PROJECT}:storeName"],
        eso_namespace=config.get("esoNamespace") or project.defaults[f"{PROJECT}:esoNamespace"],
        refresh_interval_floor=config.get("refreshIntervalFloor") or project.defaults[f"{PROJECT}:refreshIntervalFloor"],
        registry=project.registry,
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
                urns[guardrails.resource_id(manifest)] = resource.urn
        for violation in rule.check(manifests, platform):
            report_violation(violation.message, urns.get(violation.object or ""))

    return StackValidationPolicy(rule.id, rule.description, validate, EnforcementLevel.MANDATORY)


def pack_policies(platform: Platform) -> list[Policy]:
    """One mandatory policy per guardrail rule, for `platform`."""
    return [stack_policy(rule, platform) if rule.stack else resource_policy(rule, platform) for rule in guardrails.RULES]


PACK_NAME = "ameide-secrets-guardrails"


def pack(root: Path) -> None:
    """Serve the pack for the project at `root` (constructing the PolicyPack starts the analyzer and blocks)."""
    PolicyPack(PACK_NAME, pack_policies(stack_platform(Project(root))), EnforcementLevel.MANDATORY)
