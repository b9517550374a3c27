"""Discovery and cross-workload checks: every problem at once, each naming file, workload, field, value."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ameide_secrets.declare import inventory, team_module
from ameide_secrets.declare.contract import Environment, ExternalSecretSpec
from ameide_secrets.declare.inventory import DeclarationErrors, DeclaredWorkload

from helpers import discover, registry

PLAUSIBLE = """
from components import ExternalSecretSpec, WorkloadSecretsArgs

WORKLOAD = WorkloadSecretsArgs(
    workload="plausible",
    team="analytics",
    namespace="ameide",
    rollout="staging",
    external_secrets=[ExternalSecretSpec(name="plausible-secrets", data={"SECRET_KEY_BASE": "plausible/secret-key-base"})],
    existing_secrets=["postgres-ameide-auth"],
)
"""

Write = Callable[[str, str], Path]


def module(workload: str, team: str, body: str = "", rollout: str = "production", namespace: str = "ameide") -> str:
    """A team module declaring `workload`; `body` adds keyword arguments verbatim."""
    return textwrap.dedent(
        f'''
        from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs

        WORKLOAD = WorkloadSecretsArgs(
            workload="{workload}",
            team="{team}",
            namespace="{namespace}",
            rollout="{rollout}",
            {body or f'external_secrets=[ExternalSecretSpec(name="{workload}-secrets", data={{"A": "{workload}/a"}})],'}
        )
        '''
    )


def problems(workloads: Path) -> list[str]:
    with pytest.raises(DeclarationErrors) as caught:
        discover(workloads)
    return [str(p) for p in caught.value.problems]


def test_discover_when_repository_modules_then_every_workload_loads_sorted() -> None:
    declared = discover()
    names = [d.args.workload for d in declared]
    assert len(names) == len(set(names)) >= 18
    assert all(d.module == f"workloads/{d.args.team}/{inventory.module_name(d.args.workload)}" for d in declared)


def test_discover_when_valid_module_then_declaration_and_module_path(write_module: Write) -> None:
    tree = write_module("analytics/plausible.py", PLAUSIBLE)
    [declared] = discover(tree)
    assert declared.module == "workloads/analytics/plausible.py"
    assert declared.args.prefix == "plausible/"


def test_discover_when_helper_module_starts_with_underscore_then_skipped(write_module: Write) -> None:
    write_module("analytics/plausible.py", PLAUSIBLE)
    tree = write_module("analytics/_shared.py", "KEYS = ['a']\n")
    assert [d.args.workload for d in discover(tree)] == ["plausible"]


def test_discover_when_key_outside_prefix_then_design_message(write_module: Write) -> None:
    tree = write_module(
        "analytics/plausible.py",
        module(
            "plausible",
            "analytics",
            'external_secrets=[ExternalSecretSpec(name="plausible-secrets", data={"SECRET_KEY_BASE": "growth/x"})],',
        ),
    )
    assert problems(tree) == [
        'workloads/analytics/plausible.py:9 (workload plausible): WORKLOAD.external_secrets[0].data["SECRET_KEY_BASE"]: '
        "key 'growth/x' is outside the workload's prefix 'plausible/' (use a key under plausible/; another prefix needs a key_prefix under one the platform grants your team in platform/tenants.yaml)"
    ]


def test_discover_when_syntax_error_then_line_named_without_traceback(write_module: Write) -> None:
    tree = write_module("analytics/plausible.py", "WORKLOAD = (\n")
    [line] = problems(tree)
    assert line.startswith("workloads/analytics/plausible.py:1 (workload plausible): syntax error:")
    assert "Traceback" not in line


def test_discover_when_module_imports_then_refused_with_line_and_nothing_runs(write_module: Write) -> None:
    tree = write_module("analytics/plausible.py", "import os\nfrom components import NoSuchThing\n")
    assert problems(tree) == [
        "workloads/analytics/plausible.py:1 (workload plausible): import is not allowed in a team module ("
        + team_module.DATA_ONLY
        + ")",
        "workloads/analytics/plausible.py:2 (workload plausible): import of 'NoSuchThing' (only WorkloadSecretsArgs, ExternalSecretSpec, RemoteRef) "
        "is not allowed in a team module (" + team_module.DATA_ONLY + ")",
    ]


@pytest.mark.parametrize(
    ("source", "found", "line"),
    [("X = 1\n", "nothing", ""), ("\nWORKLOAD = {'workload': 'plausible'}\n", "dict", ":2")],
)
def test_discover_when_no_workload_constant_then_told_what_to_define(
    write_module: Write, source: str, found: str, line: str
) -> None:
    tree = write_module("analytics/plausible.py", source)
    assert problems(tree) == [
        f"workloads/analytics/plausible.py{line} (workload plausible): WORKLOAD: "
        f"the module must define WORKLOAD = WorkloadSecretsArgs(...), found {found}"
    ]


def test_discover_when_team_differs_from_folder_then_problem(write_module: Write) -> None:
    tree = write_module("analytics/plausible.py", module("plausible", "growth"))
    assert problems(tree) == [
        "workloads/analytics/plausible.py:6 (workload plausible): WORKLOAD.team: "
        "team 'growth' does not match the folder workloads/analytics/ (set team='analytics' or move the module)"
    ]


def test_discover_when_file_name_differs_from_workload_then_problem(write_module: Write) -> None:
    tree = write_module("ai/runtime.py", module("agents-runtime", "ai"))
    assert problems(tree) == [
        "workloads/ai/runtime.py:5 (workload agents-runtime): WORKLOAD.workload: "
        "workload 'agents-runtime' must be declared in agents_runtime.py (rename the module)"
    ]


def test_discover_when_module_outside_team_folder_then_problem(write_module: Write) -> None:
    tree = write_module("plausible.py", PLAUSIBLE)
    assert problems(tree) == [
        "workloads/plausible.py (workload plausible): module: team modules live at workloads/<team>/<workload>.py; move it"
    ]


def test_discover_when_two_modules_declare_same_externalsecret_then_second_named(write_module: Write) -> None:
    write_module("analytics/plausible.py", PLAUSIBLE)
    tree = write_module(
        "growth/umami.py",
        module(
            "umami",
            "growth",
            'external_secrets=[ExternalSecretSpec(name="plausible-secrets", target="umami", data={"A": "umami/a"})],',
        ),
    )
    assert problems(tree) == [
        "workloads/growth/umami.py:9 (workload umami): WORKLOAD.external_secrets[0].name: "
        "ExternalSecret ameide/plausible-secrets is already declared by workload plausible in workloads/analytics/plausible.py "
        "(choose another name)"
    ]


def test_discover_when_same_name_in_other_namespace_then_allowed(write_module: Write) -> None:
    write_module("analytics/plausible.py", PLAUSIBLE)
    tree = write_module(
        "growth/umami.py",
        module(
            "umami",
            "growth",
            'external_secrets=[ExternalSecretSpec(name="plausible-secrets", data={"A": "umami/a"})],',
            namespace="growth",
        ),
    )
    assert len(discover(tree)) == 2


def test_discover_when_two_externalsecrets_write_one_secret_then_problem(write_module: Write) -> None:
    write_module("analytics/plausible.py", PLAUSIBLE)
    tree = write_module(
        "growth/umami.py",
        module(
            "umami",
            "growth",
            'external_secrets=[ExternalSecretSpec(name="umami", target="plausible-secrets", data={"A": "umami/a"})],',
        ),
    )
    assert problems(tree) == [
        "workloads/growth/umami.py:9 (workload umami): WORKLOAD.external_secrets[0].target: "
        "Secret ameide/plausible-secrets is already written by workload plausible's ExternalSecret in "
        "workloads/analytics/plausible.py (two writers would overwrite each other)"
    ]


def test_discover_when_target_is_cluster_managed_secret_then_rehydration_refused(write_module: Write) -> None:
    write_module("analytics/plausible.py", PLAUSIBLE)
    tree = write_module(
        "data/postgres.py",
        module(
            "postgres",
            "data",
            'external_secrets=[ExternalSecretSpec(name="postgres-ameide-auth", data={"password": "postgres/app"})],',
        ),
    )
    # Both modules hear of it, each naming the other: either side may be the mistake.
    assert sorted(problems(tree)) == [
        "workloads/analytics/plausible.py:10 (workload plausible): WORKLOAD.existing_secrets[0]: "
        "Secret ameide/postgres-ameide-auth is written from Vault by workload postgres's ExternalSecret postgres-ameide-auth "
        "in workloads/data/postgres.py, so it is not cluster-managed (remove it here, or remove that ExternalSecret)",
        "workloads/data/postgres.py:9 (workload postgres): WORKLOAD.external_secrets[0].target: "
        "Secret ameide/postgres-ameide-auth is cluster-managed (existing_secrets of workload plausible in "
        "workloads/analytics/plausible.py); use it as it is instead of re-hydrating it from Vault",
    ]


def test_discover_when_duplicate_key_in_dict_literal_then_line_named(write_module: Write) -> None:
    body = 'external_secrets=[ExternalSecretSpec(name="plausible-secrets", data={"A": "plausible/a", "A": "plausible/b"})],'
    tree = write_module("analytics/plausible.py", module("plausible", "analytics", body))
    assert problems(tree) == [
        "workloads/analytics/plausible.py:9 (workload plausible): key 'A' appears twice in one mapping; only one can be kept (remove one)"
    ]


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (
            'external_secrets=[ExternalSecretSpec(name="Plausible_Secrets", data={"A": "plausible/a"})],',
            "WORKLOAD.external_secrets[0].name",
            "'Plausible_Secrets' must be a DNS-1123 subdomain",
        ),
        (
            f'external_secrets=[ExternalSecretSpec(name="{"x" * 254}", data={{"A": "plausible/a"}})],',
            "WORKLOAD.external_secrets[0].name",
            "is 254 characters; a DNS-1123 subdomain has at most 253",
        ),
        (
            'external_secrets=[ExternalSecretSpec(name="s", refresh_interval="1 hour", data={"A": "plausible/a"})],',
            "WORKLOAD.external_secrets[0].refresh_interval",
            "'1 hour' must be a Go duration",
        ),
        (
            'external_secrets=[ExternalSecretSpec(name="s", creation_policy="Merge", deletion_policy="Delete", data={"A": "plausible/a"})],',
            "WORKLOAD.external_secrets[0].deletion_policy",
            'deletion policy "Delete" needs creation policy "Owner", got \'Merge\'',
        ),
        (
            'external_secrets=[ExternalSecretSpec(name="s", creation_policy="None", deletion_policy="Merge", data={"A": "plausible/a"})],',
            "WORKLOAD.external_secrets[0].deletion_policy",
            'deletion policy "Merge" cannot be used with creation policy "None"',
        ),
        (
            'external_secrets=[ExternalSecretSpec(name="s")],',
            "WORKLOAD.external_secrets[0]",
            "ExternalSecret 's' reads no keys",
        ),
        (
            'external_secrets=[ExternalSecretSpec(name="s", data={"A": {"key": "plausible/a", "decodingStrategy": "b64"}})],',
            'WORKLOAD.external_secrets[0].data["A"].decodingStrategy',
            "Input should be 'Auto', 'Base64', 'Base64URL' or 'None', got 'b64'",
        ),
        (
            'external_secrets=[ExternalSecretSpec(name="s", data_from=["growth/all"])],',
            "WORKLOAD.external_secrets[0].data_from[0]",
            "key 'growth/all' is outside the workload's prefix 'plausible/'",
        ),
    ],
)
def test_discover_when_bad_declaration_then_file_workload_path_value(
    write_module: Write, body: str, path: str, message: str
) -> None:
    tree = write_module("analytics/plausible.py", module("plausible", "analytics", body))
    [line] = problems(tree)
    assert line.startswith(f"workloads/analytics/plausible.py:9 (workload plausible): {path}: ")
    assert message in line


def test_discover_when_many_modules_broken_then_every_problem_reported_at_once(write_module: Write) -> None:
    write_module("analytics/plausible.py", module("plausible", "analytics", rollout="someday"))
    write_module("core/graph.py", "WORKLOAD = (\n")
    write_module("core/threads.py", module("threads", "core"))
    tree = write_module("web/www.py", module("www", "frontend"))
    lines = problems(tree)
    assert [line.split(" ", 1)[0].split(":")[0] for line in lines] == [
        "workloads/analytics/plausible.py",
        "workloads/core/graph.py",
        "workloads/web/www.py",
    ]
    assert "WORKLOAD.rollout: Input should be 'local', 'staging' or 'production', got 'someday'" in lines[0]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (Environment.LOCAL, ["a", "b", "c"]),
        (Environment.STAGING, ["b", "c"]),
        (Environment.PRODUCTION, ["c"]),
    ],
)
def test_owned_when_environment_then_workloads_rolled_out_that_far(
    write_module: Write, environment: Environment, expected: list[str]
) -> None:
    write_module("t/a.py", module("a", "t", rollout="local"))
    write_module("t/b.py", module("b", "t", rollout="staging"))
    tree = write_module("t/c.py", module("c", "t", rollout="production"))
    assert [d.args.workload for d in inventory.owned(discover(tree), environment)] == expected


def test_namespaces_when_workloads_share_namespace_then_sorted_unique(write_module: Write) -> None:
    write_module("t/a.py", module("a", "t", namespace="ameide"))
    write_module("t/b.py", module("b", "t", namespace="monitoring"))
    tree = write_module("t/c.py", module("c", "t", namespace="ameide"))
    assert inventory.namespaces(discover(tree)) == ["ameide", "monitoring"]


def test_grants_when_workloads_declared_then_one_per_reader_with_namespace_prefix_and_module(
    write_module: Write, write_registry
) -> None:
    write_registry({"teams": {"t": {"namespaces": ["ameide"], "workloads": ["a", "b", "c"], "key_prefixes": ["shared/"]}}})
    write_module("t/a.py", module("a", "t", namespace="ameide"))
    write_module(
        "t/b.py",
        module(
            "b",
            "t",
            body='key_prefix="shared/db/", external_secrets=[ExternalSecretSpec(name="b", data={"A": "shared/db/url"})],',
        ),
    )
    tree = write_module("t/c.py", module("c", "t", body='existing_secrets=["postgres-ameide-auth"],'))
    assert inventory.grants(discover(tree), registry(tree)) == [
        inventory.Grant("ameide", "a/", "workloads/t/a.py", fetch_metadata=False),
        inventory.Grant("ameide", "shared/db/", "workloads/t/b.py", fetch_metadata=False),
    ]  # c reads nothing from Vault: no grant


@pytest.mark.parametrize("field", ["data", "data_from"])
def test_grants_when_a_ref_fetches_metadata_then_grant_says_so(write_module: Write, field: str) -> None:
    ref = 'RemoteRef(key="a/labels", metadata_policy="Fetch")'
    value = f'{{"L": {ref}}}' if field == "data" else f"[{ref}]"
    tree = write_module("t/a.py", module("a", "t", body=f'external_secrets=[ExternalSecretSpec(name="a", {field}={value})],'))
    [grant] = inventory.grants(discover(tree), registry(tree))
    assert grant.fetch_metadata


def test_discover_when_spec_bound_to_a_name_fails_then_that_name_is_the_path(write_module: Write) -> None:
    source = textwrap.dedent(
        """
        from components import ExternalSecretSpec, WorkloadSecretsArgs

        SECRETS = [ExternalSecretSpec(name="plausible-secrets", data={"A B": "plausible/a"})]

        WORKLOAD = WorkloadSecretsArgs(
            workload="plausible", team="analytics", namespace="ameide", rollout="production",
            external_secrets=SECRETS,
        )
        """
    )
    tree = write_module("analytics/plausible.py", source)
    [line] = problems(tree)
    assert line.startswith(
        "workloads/analytics/plausible.py:4 (workload plausible): SECRETS[0].data: secret key 'A B' must consist of"
    )


# What a PR may put under workloads/ in place of a team module; each is refused by its path, and a
# link is never followed: what it points to (outside the repository, with a canary) is never read.
NOT_A_MODULE = {
    "linked-module": ("analytics/umami.py", "is a symbolic link;"),
    "linked-team-folder": ("evil", "is a symbolic link;"),
    "folder-named-like-a-module": ("analytics/umami.py", "is a folder named like a team module;"),
    "not-utf8": ("analytics/umami.py:1 (workload umami)", "is not UTF-8: byte 0xff at offset 5 cannot be decoded"),
    "too-large": ("analytics/umami.py (workload umami)", f"is larger than {team_module.MAX_MODULE_BYTES} bytes"),
}


@pytest.mark.parametrize("kind", sorted(NOT_A_MODULE))
def test_discover_when_not_a_regular_module_then_refused_by_path_and_links_never_followed(
    write_module: Write, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> None:
    canary = "canary_7f3a9c_outside_the_repository"
    outside = tmp_path_factory.mktemp("outside")
    (outside / "umami.py").write_text(f"X = {canary}\n")  # read as a module, its error would quote the canary
    tree = write_module("analytics/plausible.py", PLAUSIBLE)
    path = tree / "analytics" / "umami.py"
    if kind == "linked-module":
        path.symlink_to(outside / "umami.py")
    elif kind == "linked-team-folder":
        (tree / "evil").symlink_to(outside, target_is_directory=True)
    elif kind == "folder-named-like-a-module":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b"X = '\xff'\n")
    else:
        path.write_bytes(b"#" * (team_module.MAX_MODULE_BYTES + 1))
    where, message = NOT_A_MODULE[kind]
    lines = problems(tree)
    assert any(line.startswith(f"workloads/{where}: {message}") for line in lines), lines
    assert canary not in "\n".join(lines)


def test_cross_check_when_two_team_folders_declare_one_workload_then_the_second_is_named(make_workload) -> None:
    """Two teams, two folders, one workload name: its keys (`plausible/`) would belong to both."""
    first = DeclaredWorkload(make_workload(team="analytics"), "workloads/analytics/plausible.py")
    spec = ExternalSecretSpec(name="plausible-other", data={"A": "plausible/a"})
    second = DeclaredWorkload(
        make_workload(team="growth", namespace="growth", external_secrets=[spec]), "workloads/growth/plausible.py"
    )
    assert [str(p) for p in inventory.cross_check([first, second])] == [
        "workloads/growth/plausible.py (workload plausible): WORKLOAD.workload: workload 'plausible' is already declared in "
        "workloads/analytics/plausible.py"
    ]
    assert inventory.cross_check([first]) == []
