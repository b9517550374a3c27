"""The Kubernetes objects a stack applies, computed without Pulumi.

The components register exactly these (tests/test_main.py compares them, for every stack, with
what the program registers under the mock monitor), so the reviewable YAML costs a few
milliseconds per workload instead of a Pulumi run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from declarations import inventory
from declarations.inventory import DeclaredWorkload
from declarations.settings import StackSettings
from rendering import admission, manifests, preview_access


def stack_manifests(settings: StackSettings, owned: Sequence[DeclaredWorkload]) -> list[dict[str, Any]]:
    """Every Kubernetes object of a stack that owns `owned`: the platform's, then each workload's."""
    namespaces, grants = inventory.namespaces(owned), inventory.grants(owned)
    objects = [
        *manifests.reviewer_service_accounts(settings, namespaces),
        *manifests.reviewer_bindings(settings, namespaces),
        *(obj for policy in admission.policies(settings, namespaces, grants) for obj in (policy, admission.binding(policy))),
        *preview_access.objects(settings),
        manifests.cluster_secret_store(settings, namespaces),
    ]
    objects += [manifests.external_secret(d.args, spec, settings) for d in owned for spec in d.args.external_secrets]
    return objects
