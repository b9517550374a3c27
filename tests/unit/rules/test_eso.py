"""rules/eso.py: ESO's own rules, and the two layers that enforce them agreeing on every case."""

from __future__ import annotations

import itertools
import typing
from typing import Any

import pytest

from ameide_secrets import vocabulary
from ameide_secrets.declare.contract import DeclarationError, WorkloadSecretsArgs
from ameide_secrets.rules import eso, guardrails

from helpers import external_secret_manifest

PAIRS = list(itertools.product(typing.get_args(vocabulary.CreationPolicy), typing.get_args(vocabulary.DeletionPolicy)))
REFUSED_BY_ESO = {(c, "Delete") for c in typing.get_args(vocabulary.CreationPolicy) if c != "Owner"} | {("None", "Merge")}


def declaration_problems(**spec: Any) -> list[str]:
    """What the team's declaration check says of one ExternalSecret of workload plausible."""
    try:
        WorkloadSecretsArgs.model_validate(
            {
                "workload": "plausible",
                "team": "analytics",
                "namespace": "ameide",
                "rollout": "local",
                "external_secrets": [{"name": "plausible-secrets", **spec}],
            }
        )
    except DeclarationError as error:
        return [p.message for p in error.problems]
    return []


def policy_problems(rule: str, edit: dict[str, Any]) -> list[str]:
    """What the guardrail rule `rule` says of the rendered ExternalSecret with `edit` applied to its spec."""
    manifest = external_secret_manifest()
    for field, value in edit.items():
        if value is None:
            manifest["spec"].pop(field, None)
        else:
            manifest["spec"][field] = value
    return [v.message for v in guardrails.check([manifest]) if v.rule == rule]


@pytest.mark.parametrize(("creation", "deletion"), PAIRS)
def test_deletion_policy_when_any_pair_then_declaration_and_policy_agree_with_eso(creation: str, deletion: str) -> None:
    problem = eso.deletion_policy_problem(creation, deletion)
    assert (problem is not None) == ((creation, deletion) in REFUSED_BY_ESO)
    target = {"name": "plausible-secrets", "creationPolicy": creation, "deletionPolicy": deletion}
    declared = declaration_problems(data={"K": "plausible/k"}, creation_policy=creation, deletion_policy=deletion)
    rendered = policy_problems("external-secret-deletion-policy", {"target": target})
    assert declared == ([] if problem is None else [problem])
    assert rendered == ([] if problem is None else [f"spec.target: {problem}"])


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        pytest.param({"name": "s", "deletionPolicy": "Delete"}, False, id="creation-unset-is-owner"),
        pytest.param({"name": "s", "creationPolicy": "Merge"}, False, id="deletion-unset-is-retain"),
        pytest.param({"name": "s", "creationPolicy": "None", "deletionPolicy": "Merge"}, True, id="none-merge"),
    ],
)
def test_deletion_policy_when_fields_unset_then_policy_applies_esos_defaults(target: dict[str, str], refused: bool) -> None:
    assert bool(policy_problems("external-secret-deletion-policy", {"target": target})) == refused


@pytest.mark.parametrize(
    ("data", "data_from"),
    [({}, []), ({"K": "plausible/k"}, []), ({}, ["plausible/all"]), ({"K": "plausible/k"}, ["plausible/all"])],
)
def test_data_when_any_combination_then_declaration_and_policy_agree(data: dict[str, str], data_from: list[str]) -> None:
    problem = eso.data_problem(bool(data), bool(data_from))
    assert (problem is None) == bool(data or data_from)
    declared = declaration_problems(data=data, data_from=data_from)
    rendered = policy_problems(
        "external-secret-data-required",
        {
            "data": [{"secretKey": k, "remoteRef": {"key": v}} for k, v in data.items()] or None,
            "dataFrom": [{"extract": {"key": key}} for key in data_from] or None,
        },
    )
    assert declared == ([] if problem is None else [f"ExternalSecret 'plausible-secrets' {problem}"])
    assert rendered == ([] if problem is None else [problem])
