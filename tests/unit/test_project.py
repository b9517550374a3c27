"""Project -> Stack: every input read once, from an explicit root; the stack's settings, owned workloads and outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ameide_secrets.declare.inventory import DeclarationErrors
from ameide_secrets.declare.settings import PROJECT, SettingsError
from ameide_secrets.project import REPOSITORY, Project

from helpers import STACKS, config_for, discover, project_tree, settings_for

# --- Project.config on the real repository -----------------------------------------------------


def test_config_when_real_stack_includes_pulumi_yaml_defaults() -> None:
    config = config_for("staging")
    assert config["ameide-secrets:storeName"] == "ameide-vault"
    assert config["ameide-secrets:vaultKvMount"] == "secret"
    assert config["ameide-secrets:vaultCaKey"] == "ca.crt"
    assert config["ameide-secrets:environment"] == "staging"
    assert config["ameide-secrets:kubeContext"] == "ameide-staging"


def test_config_when_stack_file_sets_a_defaulted_key_stack_wins() -> None:
    assert config_for("local")["ameide-secrets:refreshInterval"] == "15m"
    assert config_for("staging")["ameide-secrets:refreshInterval"] == "1h"


# --- Project.config on a temporary project -----------------------------------------------------

PROJECT_YAML = """\
name: ameide-secrets
runtime: python
config:
  environment:
    type: string
  storeName:
    type: string
    default: from-project
  refreshInterval:
    type: string
    default: 1h
  dryRun:
    type: boolean
    default: true
  replicas:
    type: integer
    default: 3
  ameide-secrets:qualified:
    type: string
    default: q
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_YAML)
    return tmp_path


def write_stack(root: Path, stack: str, config: str) -> None:
    (root / f"Pulumi.{stack}.yaml").write_text(config)


def test_config_when_key_in_both_files_stack_file_wins(project: Path) -> None:
    write_stack(project, "x", "config:\n  ameide-secrets:storeName: from-stack\n  ameide-secrets:environment: local\n")
    config = Project(project).config("x")
    assert config["ameide-secrets:storeName"] == "from-stack"
    assert config["ameide-secrets:refreshInterval"] == "1h"
    assert config["ameide-secrets:environment"] == "local"


def test_config_when_key_has_no_default_and_stack_omits_it_is_absent(project: Path) -> None:
    write_stack(project, "x", "config: {}\n")
    assert "ameide-secrets:environment" not in Project(project).config("x")


def test_config_when_stack_file_has_no_config_returns_defaults(project: Path) -> None:
    write_stack(project, "x", "# nothing yet\n")
    assert Project(project).config("x") == {
        "ameide-secrets:storeName": "from-project",
        "ameide-secrets:refreshInterval": "1h",
        "ameide-secrets:dryRun": "true",
        "ameide-secrets:replicas": "3",
        "ameide-secrets:qualified": "q",
    }


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [("false", "false"), ("true", "true"), ("5", "5"), ("1.5", "1.5"), ("[a, b]", '["a", "b"]'), ("{a: 1}", '{"a": 1}')],
)
def test_config_when_value_not_a_string_becomes_config_string(project: Path, yaml_value: str, expected: str) -> None:
    write_stack(project, "x", f"config:\n  ameide-secrets:dryRun: {yaml_value}\n")
    assert Project(project).config("x")["ameide-secrets:dryRun"] == expected


def test_config_when_other_namespace_key_passes_through(project: Path) -> None:
    write_stack(project, "x", "config:\n  kubernetes:context: kind\n")
    assert Project(project).config("x")["kubernetes:context"] == "kind"


def test_config_when_unknown_project_key_names_file_and_key(project: Path) -> None:
    write_stack(project, "x", "config:\n  ameide-secrets:storName: typo\n")
    with pytest.raises(SettingsError) as info:
        Project(project).config("x")
    assert str(info.value) == (
        "Pulumi.x.yaml: ameide-secrets:storName: unknown setting (the settings are declared in Pulumi.yaml)"
    )


def test_config_when_stack_file_missing_lists_stacks(project: Path) -> None:
    write_stack(project, "x", "config: {}\n")
    write_stack(project, "a", "config: {}\n")
    with pytest.raises(SettingsError) as info:
        Project(project).config("prod")
    assert str(info.value) == "no stack 'prod': Pulumi.prod.yaml does not exist (stacks: a, x)"


def test_stack_names_when_real_repository_then_in_rollout_order() -> None:
    assert Project().stack_names == STACKS


def test_stack_names_when_a_stack_file_has_a_bad_environment_then_it_sorts_last_and_its_stack_names_file_and_key(
    tmp_path: Path,
) -> None:
    for name in ("Pulumi.yaml", "Pulumi.local.yaml"):
        shutil.copy2(REPOSITORY / name, tmp_path / name)
    (tmp_path / "Pulumi.qa.yaml").write_text(
        (REPOSITORY / "Pulumi.local.yaml").read_text().replace("environment: local", "environment: qa")
    )
    project = Project(tmp_path)
    assert project.stack_names == ["local", "qa"]
    with pytest.raises(
        SettingsError, match=r"Pulumi.qa.yaml: ameide-secrets:environment: Input should be 'local', 'staging' or 'production'"
    ):
        project.stack("qa")


@pytest.mark.parametrize("stack", STACKS)
def test_stack_when_built_then_owns_exactly_the_workloads_rolled_out_that_far(stack: str) -> None:
    computed = Project().stack(stack)
    expected = sorted(d.args.workload for d in discover() if computed.settings.environment <= d.args.rollout)
    assert sorted(computed.modules) == expected
    assert computed.outputs["ownedWorkloads"] == expected
    assert computed.outputs["environment"] == stack


def test_stack_when_config_file_given_then_its_settings_replace_the_stack_files(tmp_path: Path) -> None:
    other = tmp_path / "Pulumi.staging.yaml"
    other.write_text((REPOSITORY / "Pulumi.staging.yaml").read_text().replace("ameide-staging", "ameide-elsewhere"))
    assert Project().stack("staging", config_file=other).settings.kube_context == "ameide-elsewhere"
    assert Project().stack("staging").settings.kube_context == "ameide-staging"


def test_stack_when_settings_come_from_a_lookup_then_they_equal_the_files_with_defaults() -> None:
    """What the program gets from the CLI (`pulumi.Config(PROJECT).get`) gives the same stack as the files."""
    config = config_for("production")
    from_lookup = Project().stack("production", lookup=lambda key: config.get(f"{PROJECT}:{key}"))
    assert from_lookup.settings == settings_for("production")
    assert from_lookup.manifests == Project().stack("production").manifests


def test_project_when_rooted_elsewhere_then_reads_only_that_tree(tmp_path: Path) -> None:
    """No hidden input: a project in another folder sees its own modules, never the repository's."""
    root = project_tree(tmp_path)
    (root / "workloads" / "web" / "www.py").unlink()
    assert "www" not in {d.args.workload for d in Project(root).declared}
    assert "www" in {d.args.workload for d in Project().declared}


def test_stack_objects_when_built_then_every_externalsecret_waits_for_the_store_and_the_store_for_every_policy() -> None:
    computed = Project().stack("staging")
    [store] = [o for o in computed.objects if o.kind == "ClusterSecretStore"]
    policies = {
        o.key for o in computed.platform_objects if o.kind.startswith("ValidatingAdmissionPolicy") and "preview" not in o.name
    }
    assert policies
    assert policies <= set(store.after)
    assert all(o.after == (store.key,) for o in computed.objects if o.kind == "ExternalSecret")


def test_stack_when_a_module_refreshes_below_the_floor_then_refused_naming_module_field_and_value(write_module) -> None:
    tree = write_module(
        "analytics/plausible.py",
        "from components import ExternalSecretSpec, WorkloadSecretsArgs\n"
        "WORKLOAD = WorkloadSecretsArgs(workload='plausible', team='analytics', namespace='ameide', rollout='production',\n"
        "    external_secrets=[ExternalSecretSpec(name='plausible-secrets', refresh_interval='1ns', data={'K': 'plausible/k'})])\n",
    )
    with pytest.raises(DeclarationErrors) as caught:
        Project(tree.parent).stack("production")
    assert [str(p) for p in caught.value.problems] == [
        "workloads/analytics/plausible.py:3 (workload plausible): WORKLOAD.external_secrets[0].refresh_interval: refresh "
        "interval '1ns' is below the platform's floor '1m': ESO would re-read Vault that often for every tenant "
        "(use 1m or more, or '0' to read once)"
    ]


def test_stack_when_its_default_refresh_is_below_its_floor_then_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"refreshInterval: refresh interval '10s' is below the platform's floor '1m'"):
        settings_for("staging", refreshInterval="10s")
    assert settings_for("staging", refreshInterval="10s", refreshIntervalFloor="5s").refresh_interval == "10s"
