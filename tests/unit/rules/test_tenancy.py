"""rules/tenancy.py: the access registry, system namespaces and canonical Vault paths, at every layer."""

from __future__ import annotations

import fnmatch
import random
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from ameide_secrets.declare import inventory
from ameide_secrets.declare.contract import DeclarationError, WorkloadSecretsArgs
from ameide_secrets.declare.inventory import DeclarationErrors, Grant
from ameide_secrets.project import REPOSITORY
from ameide_secrets.render import admission, vault_plan
from ameide_secrets.rules import guardrails, tenancy

from helpers import discover, external_secret_manifest, registry, settings_for
from kube_cel import evaluate

ROOT_REGISTRY = yaml.safe_load((REPOSITORY / tenancy.REGISTRY_PATH).read_text())
OBSERVABILITY_ONLY = {"teams": {"observability": {"namespaces": ["monitoring"], "workloads": ["prometheus"]}}, "legacy": {}}


def module(workload: str, body: str, namespace: str = "monitoring", team: str = "observability") -> str:
    return textwrap.dedent(
        f"""
        from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

        WORKLOAD = WorkloadSecretsArgs(
            workload="{workload}", team="{team}", namespace="{namespace}", rollout="production",
            {body}
        )
        """
    )


def secrets(*keys: str, name: str = "prometheus-secrets", **spec: str) -> str:
    data = ", ".join(f'"K{i}": "{key}"' for i, key in enumerate(keys))
    extra = "".join(f", {k}={v}" for k, v in spec.items())
    return f'external_secrets=[ExternalSecretSpec(name="{name}", data={{{data}}}{extra})],'


def problems(tree: Path) -> list[str]:
    with pytest.raises(DeclarationErrors) as caught:
        discover(tree)
    return [str(p) for p in caught.value.problems]


# --- the registry as committed -------------------------------------------------------------------


def test_registry_when_committed_then_every_team_folder_has_an_entry_and_every_workload_fits() -> None:
    folders = {p.name for p in (REPOSITORY / "workloads").iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert set(ROOT_REGISTRY["teams"]) == folders
    declared = discover()  # raises on any refusal
    adopted = {f"{d.args.namespace}/{s.name}" for d in declared for s in d.args.external_secrets if d.args.adopts(s)}
    assert adopted <= set(ROOT_REGISTRY["legacy"])


def test_codeowners_when_registry_changes_then_platform_reviews() -> None:
    lines = [
        line.split()
        for line in (REPOSITORY / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ["/platform/", "@ameide/platform"] in lines


# --- hostile modules of a team granted only its own namespace ---------------------------------------

HOSTILE = {
    "foreign namespace": (
        module("prometheus", secrets("prometheus/x"), namespace="argocd"),
        "WORKLOAD.namespace: namespace 'argocd' is not granted to team observability (granted: monitoring)",
    ),
    "system namespace": (
        module("prometheus", secrets("prometheus/x"), namespace="kube-system"),
        "WORKLOAD.namespace: 'kube-system' is a system namespace",
    ),
    "kube- namespace": (
        module("prometheus", secrets("prometheus/x"), namespace="kube-flannel"),
        "WORKLOAD.namespace: 'kube-flannel' is a system namespace",
    ),
    "default namespace": (
        module("prometheus", secrets("prometheus/x"), namespace="default"),
        "WORKLOAD.namespace: 'default' is a system namespace",
    ),
    "ESO's namespace": (
        module("prometheus", secrets("prometheus/x"), namespace="external-secrets"),
        "WORKLOAD.namespace: 'external-secrets' is ESO's namespace",
    ),
    "another workload's prefix": (
        module("prometheus", 'key_prefix="keycloak/", ' + secrets("keycloak/admin")),
        "WORKLOAD.key_prefix: 'keycloak/' is neither workload prometheus's own 'prometheus/' nor under a prefix granted to team observability",
    ),
    "merge into an ungranted Secret of its own namespace": (
        module("prometheus", secrets("prometheus/x", name="p", target='"grafana-admin"', creation_policy='"Merge"')),
        "WORKLOAD.external_secrets[0].creation_policy: Secret monitoring/grafana-admin is not granted to team observability "
        "to merge into",
    ),
    "owner and delete onto a Helm release": (
        module(
            "prometheus",
            secrets("prometheus/x", name="p", target='"sh.helm.release.v1.grafana.v7"', deletion_policy='"Delete"'),
        ),
        "WORKLOAD.external_secrets[0].target: target Secret 'sh.helm.release.v1.grafana.v7' is named like a Helm release record",
    ),
    "orphan onto a service-account token": (
        module("prometheus", secrets("prometheus/x", name="p", target='"prometheus-token-x7k2q"', creation_policy='"Orphan"')),
        "target Secret 'prometheus-token-x7k2q' is named like a Helm release record or a service-account token",
    ),
    "unclaimed workload name": (
        module("billing", secrets("billing/stripe", name="billing-secrets"), namespace="monitoring"),
        "WORKLOAD.workload: workload 'billing' is not granted to team observability (no team is granted it); the platform "
        "team grants it by adding 'billing' to teams.observability.workloads in platform/tenants.yaml (line 3)",
    ),
    "dot prefix": (
        module("prometheus", 'key_prefix="./", ' + secrets("./keycloak/admin")),
        "key './keycloak/admin' has an empty, '.' or '..' segment",
    ),
    "mount-named prefix": (
        module("prometheus", 'key_prefix="secret/", ' + secrets("secret/keycloak/admin")),
        "'secret/' starts with 'secret/', which Vault reads as part of the mount's API path",
    ),
    "mount-named key": (
        module("secret", secrets("secret/keycloak/admin", name="x")),
        "'secret/keycloak/admin' starts with 'secret/'",
    ),
    "data/ key": (
        module("prometheus", secrets("data/keycloak/admin")),
        "'data/keycloak/admin' starts with 'data/'",
    ),
    "adopt anything": (
        module("prometheus", "adopt=True, " + secrets("prometheus/x", name="argocd-secret")),
        "WORKLOAD.external_secrets[0].adopt: ExternalSecret monitoring/argocd-secret is not listed under legacy in platform/tenants.yaml",
    ),
    "merge into a foreign Secret": (
        module(
            "prometheus",
            secrets("prometheus/x", name="p", target='"argocd-secret"', creation_policy='"Merge"'),
            namespace="argocd",
        ),
        "namespace 'argocd' is not granted",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_discover_when_hostile_module_of_a_namespace_bound_team_then_refused_naming_file_field_value(
    write_module, write_registry, case: str
) -> None:
    source, expected = HOSTILE[case]
    write_registry(OBSERVABILITY_ONLY)
    workload = source.split('workload="')[1].split('"')[0]
    lines = problems(write_module(f"observability/{workload.replace('-', '_')}.py", source))
    assert any(
        line.startswith(f"workloads/observability/{workload.replace('-', '_')}.py") and expected in line for line in lines
    ), lines


def test_discover_when_two_workloads_prefixes_nest_then_both_modules_named(write_module, write_registry) -> None:
    write_registry(
        {"teams": {"data": {"namespaces": ["ameide"], "workloads": ["flyway", "postgres"], "key_prefixes": ["shared/"]}}}
    )
    write_module(
        "data/flyway.py", module("flyway", 'key_prefix="shared/db/", ' + secrets("shared/db/url", name="f"), "ameide", "data")
    )
    tree = write_module(
        "data/postgres.py", module("postgres", 'key_prefix="shared/", ' + secrets("shared/pw", name="p"), "ameide", "data")
    )
    lines = problems(tree)
    assert sorted(line.split(" (")[0] for line in lines) == ["workloads/data/flyway.py:6", "workloads/data/postgres.py:6"]
    assert all("overlaps" in line for line in lines)
    assert "in workloads/data/postgres.py" in next(line for line in lines if line.startswith("workloads/data/flyway.py"))


def test_discover_when_granted_prefix_then_key_prefix_under_it_allowed(write_module, write_registry) -> None:
    write_registry({"teams": {"data": {"namespaces": ["ameide"], "workloads": ["flyway"], "key_prefixes": ["legacy-db/"]}}})
    tree = write_module(
        "data/flyway.py", module("flyway", 'key_prefix="legacy-db/flyway/", ' + secrets("legacy-db/flyway/url"), "ameide", "data")
    )
    [declared] = discover(tree)
    assert declared.args.prefix == "legacy-db/flyway/"


def test_discover_when_workload_granted_to_another_team_then_refused_naming_the_holder(write_module, write_registry) -> None:
    write_registry(
        {
            "teams": {
                "observability": {"namespaces": ["ameide"], "workloads": ["alertmanager", "prometheus"]},
                "web": {"namespaces": ["ameide"], "workloads": ["www"]},
            }
        }
    )
    write_module("observability/alertmanager.py", module("alertmanager", secrets("alertmanager/x", name="a"), "ameide"))
    tree = write_module("web/prometheus.py", module("prometheus", secrets("prometheus/x"), "ameide", "web"))
    assert problems(tree) == [
        "workloads/web/prometheus.py:5 (workload prometheus): WORKLOAD.workload: workload 'prometheus' is not granted to team "
        "web (it is granted to team observability); the platform team grants it by adding 'prometheus' to "
        "teams.web.workloads in platform/tenants.yaml (line 8)"
    ]


def test_discover_when_legacy_object_listed_for_another_team_then_adopt_refused(write_module, write_registry) -> None:
    write_registry(
        {
            "teams": {
                "observability": {"namespaces": ["ameide"], "workloads": ["alertmanager"]},
                "web": {"namespaces": ["ameide"], "workloads": ["www"]},
            },
            "legacy": {"ameide/shared-oauth": "observability"},
        }
    )
    write_module("observability/alertmanager.py", module("alertmanager", secrets("alertmanager/x"), "ameide"))
    tree = write_module("web/www.py", module("www", "adopt=True, " + secrets("www/x", name="shared-oauth"), "ameide", "web"))
    assert problems(tree) == [
        "workloads/web/www.py:6 (workload www): WORKLOAD.external_secrets[0].adopt: ExternalSecret ameide/shared-oauth may "
        "be adopted only by team observability (platform/tenants.yaml, legacy); team web cannot take it over (drop "
        "adopt, or ask the platform team to move the entry)"
    ]


def test_discover_when_merge_target_granted_then_declared_and_the_grant_carries_it(write_module, write_registry) -> None:
    write_registry(
        {
            "teams": {
                "observability": {
                    "namespaces": ["monitoring"],
                    "workloads": ["prometheus"],
                    "merge_into": ["monitoring/grafana-env"],
                }
            }
        }
    )
    tree = write_module(
        "observability/prometheus.py",
        module("prometheus", secrets("prometheus/x", name="p", target='"grafana-env"', creation_policy='"Merge"')),
    )
    [grant] = inventory.grants(discover(tree), registry(tree))
    assert grant.merge_into == ("grafana-env",)


def test_grants_when_declaration_not_granted_then_no_policy_is_generated_from_it() -> None:
    """Admission and Vault take prefixes from the registry: a declaration alone (discovery bypassed) yields none."""
    args = WorkloadSecretsArgs(workload="billing", team="web", namespace="ameide", rollout="production")
    registry = tenancy.Registry({"web": tenancy.TeamGrant(namespaces=("ameide",), workloads=("www",))})
    with pytest.raises(ValueError, match="workload 'billing' is not granted to team web"):
        registry.granted_prefix("web", args.workload, args.prefix)


def test_discover_when_team_has_no_registry_entry_then_told_who_grants(write_module, write_registry) -> None:
    write_registry({"teams": {}, "legacy": []})
    tree = write_module("growth/funnel.py", module("funnel", secrets("funnel/x"), "growth", "growth"))
    lines = problems(tree)
    assert (
        "workloads/growth/funnel.py:5 (workload funnel): WORKLOAD.team: team 'growth' has no entry in platform/tenants.yaml"
        in lines[0]
    )


# --- the registry's own validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"teams": {"ghost": {"namespaces": ["x"]}}}, "platform/tenants.yaml: teams.ghost: no folder workloads/ghost/"),
        (
            {"teams": {"observability": {"namespaces": ["kube-system"]}}},
            "teams.observability.namespaces: 'kube-system' is a system namespace",
        ),
        ({"teams": {"observability": {"namespaces": ["a", "a"]}}}, "teams.observability.namespaces: a namespace is listed twice"),
        (
            {"teams": {"observability": {"key_prefixes": ["shared/"]}, "data": {"key_prefixes": ["shared/db/"]}}},
            "teams.observability.key_prefixes: 'shared/' overlaps 'shared/db/' granted to team data (grants never overlap)",
        ),
        (
            {"teams": {"observability": {"workloads": ["billing"]}, "data": {"workloads": ["billing"]}}},
            "teams.observability.workloads: workload billing 'billing/' overlaps 'billing/' granted to team data",
        ),
        (
            {"teams": {"observability": {"workloads": ["billing"]}, "data": {"key_prefixes": ["billing/old/"]}}},
            "teams.observability.workloads: workload billing 'billing/' overlaps 'billing/old/' granted to team data",
        ),
        (
            {
                "teams": {
                    "data": {"namespaces": ["ameide"], "merge_into": ["ameide/db"]},
                    "observability": {"namespaces": ["ameide"], "merge_into": ["ameide/db"]},
                }
            },
            "teams.observability.merge_into: 'ameide/db' is also granted to team data (grants never overlap)",
        ),
        (
            {"teams": {"data": {"namespaces": ["ameide"], "merge_into": ["monitoring/db"]}}},
            "teams.data.merge_into: 'monitoring/db' is in a namespace not granted to team data",
        ),
        (
            {"teams": {"observability": {"key_prefixes": ["../x/"]}}},
            "teams.observability.key_prefixes: '../x/' has an empty, '.' or '..' segment",
        ),
        (
            {"teams": {"observability": {"nmespaces": ["x"]}}},
            "teams.observability: holds only the lists 'namespaces', 'workloads', 'key_prefixes', 'merge_into'",
        ),
        ({"teams": {}, "legacy": {"alertmanager": "observability"}}, "legacy: 'alertmanager' must be 'namespace/name'"),
        (
            {"teams": {}, "legacy": ["monitoring/x"]},
            "legacy: must map 'namespace/name' of each legacy ExternalSecret to the team",
        ),
        ({"teams": {}, "legacy": {"monitoring/x": "ghost"}}, "legacy.monitoring/x: names team 'ghost', which has no entry"),
        (
            {"teams": {"observability": {"namespaces": ["monitoring"]}}, "legacy": {"ameide/x": "observability"}},
            "legacy.ameide/x: is in a namespace not granted to team observability",
        ),
        ({"team": {}}, "platform/tenants.yaml: file: the top level holds only 'teams' and 'legacy'"),
    ],
)
def test_registry_when_invalid_then_each_problem_named(
    write_module, write_registry, document: dict[str, Any], expected: str
) -> None:
    write_module("data/x.py", module("x", secrets("x/a"), "ameide", "data"))
    write_registry(document)
    tree = write_module("observability/y.py", module("y", secrets("y/a")))
    assert any(expected in line for line in problems(tree)), problems(tree)


def test_registry_when_missing_then_discovery_says_where_it_belongs(write_module, tmp_path: Path) -> None:
    tree = write_module("observability/y.py", module("y", secrets("y/a")))
    (tmp_path / tenancy.REGISTRY_PATH).unlink()
    assert problems(tree) == ["platform/tenants.yaml: file: missing; the platform grants each team its namespaces there"]


# --- one rule, every layer -----------------------------------------------------------------------------

PATHS = [
    "plausible/db",
    "a/b/c",
    "./x",
    "x/./y",
    "x/../y",
    "..",
    "x//y",
    "/x",
    "x/",
    "",
    "data/x",
    "metadata/x",
    "secret/x",
    "secretive/x",
    "x/data/y",
]


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("keycloak/admin", None),
        ("shared/db/x", None),
        ("keycloak/../alertmanager/x", "'keycloak/../alertmanager/x' has an empty, '.' or '..' segment"),
        ("secret/keycloak/admin", "'secret/keycloak/admin' starts with 'secret/'"),
        ("alertmanager/x", "'alertmanager/x' is outside the key prefixes of namespace ameide: keycloak/, shared/db/"),
    ],
)
def test_namespace_key_problem_when_live_key_judged_then_path_rule_first_then_the_namespaces_prefixes(
    key: str, problem: str | None
) -> None:
    """What precheck asks of a live object's key: what admission would say in that namespace."""
    found = tenancy.namespace_key_problem(key, ["shared/db/", "keycloak/"], "ameide", "secret")
    assert found == problem if problem is None else (found or "").startswith(problem)


@pytest.mark.parametrize("path", PATHS)
def test_cel_refused_key_when_path_given_then_same_verdict_as_python_rule(path: str) -> None:
    refused_in_cel = evaluate(f"k.matches('{tenancy.cel_refused_key('secret')}')", {"k": path})
    assert refused_in_cel is (tenancy.vault_path_problem(path, ["secret"]) is not None)


def test_admission_when_key_is_non_canonical_then_refused_even_under_a_declared_prefix() -> None:
    settings = settings_for("staging")
    policy = admission.external_secret_policy(
        settings, ["ameide"], [Grant("ameide", "plausible/", "workloads/analytics/plausible.py", False)]
    )
    [refused] = [v for v in policy["spec"]["variables"] if v["name"] == "refusedKeys"]
    keys = ["plausible/./x", "plausible/db", "secret/plausible/x"]
    allowed = {"plausible/": "workloads/analytics/plausible.py"}
    assert evaluate(refused["expression"], {"variables": {"keys": keys, "allowed": allowed}}) == [
        "plausible/./x",
        "secret/plausible/x",
    ]


@pytest.mark.parametrize(
    ("namespace", "refused"), [("kube-flannel", True), ("default", True), ("external-secrets", True), ("ameide", False)]
)
def test_policy_rule_when_externalsecret_namespace_then_system_namespaces_refused(namespace: str, refused: bool) -> None:
    manifest = external_secret_manifest()
    manifest["metadata"]["namespace"] = namespace
    violations = [v for v in guardrails.check([manifest]) if v.rule == "external-secret-namespace"]
    assert bool(violations) is refused


def test_vault_policy_when_prefix_non_canonical_then_generation_refuses() -> None:
    with pytest.raises(ValueError, match="starts with 'secret/'"):
        vault_plan.acl_policy(settings_for("staging"), [Grant("ameide", "secret/keycloak/", "workloads/x/y.py", False)])


@pytest.mark.parametrize("key", ["plausible/db", "plausible/a/b", "plausible-admin/x", "growth/x", "plausible"])
def test_key_prefix_when_key_given_then_declaration_policy_admission_and_vault_agree(key: str) -> None:
    """One rule (`tenancy.key_prefix_problem`), four layers: the team's declaration, the guardrail
    policy, the admission CEL and the Vault ACL's `<prefix>*` glob give the same verdict."""
    outside = tenancy.key_prefix_problem(key, "plausible/") is not None
    assert outside is not key.startswith("plausible/")
    try:
        WorkloadSecretsArgs.model_validate(
            {"workload": "plausible", "team": "analytics", "namespace": "ameide", "rollout": "local",
             "external_secrets": [{"name": "plausible-secrets", "data": {"K": key}}]}
        )  # fmt: skip
        declared = False
    except DeclarationError:
        declared = True
    manifest = external_secret_manifest()
    manifest["spec"]["data"] = [{"secretKey": "K", "remoteRef": {"key": key}}]
    policy = any(v.rule == "external-secret-key-prefix" for v in guardrails.check([manifest]))
    grants = [Grant("ameide", "plausible/", "workloads/analytics/plausible.py", False)]
    variables = admission.external_secret_policy(settings_for("staging"), ["ameide"], grants)["spec"]["variables"]
    [refused] = [v for v in variables if v["name"] == "refusedKeys"]
    allowed = {"plausible/": "workloads/analytics/plausible.py"}
    in_cel = evaluate(refused["expression"], {"variables": {"keys": [key], "allowed": allowed}}) == [key]
    acl = vault_plan.acl_policy(settings_for("staging"), grants)
    vault_paths = [line.split('"')[1] for line in acl.splitlines() if line.startswith("path ")]
    in_vault = not any(fnmatch.fnmatchcase(f"secret/data/{key}", path) for path in vault_paths)
    assert (declared, policy, in_cel, in_vault) == (outside,) * 4


@pytest.mark.parametrize("seed", range(5))
def test_prefix_index_when_prefixes_added_then_finds_exactly_the_nested_ones_in_order(seed: int) -> None:
    """The index discovery uses instead of comparing every pair answers as `nested` would, pair by pair."""
    rng = random.Random(seed)
    prefixes = ["".join(rng.choice("ab/") for _ in range(rng.randint(0, 4))) for _ in range(200)]
    index = tenancy.PrefixIndex()
    added: list[str] = []
    for prefix in prefixes:
        assert index.overlapping(prefix) == [other for other in added if tenancy.nested(prefix, other)]
        index.add(prefix)
        if prefix not in added:
            added.append(prefix)
