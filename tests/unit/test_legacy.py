"""legacy.py and `ameide-secrets legacy`: the legacy chart's objects become team modules that render them identically."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ameide_secrets import legacy
from ameide_secrets.cli import legacy as verb
from ameide_secrets.project import REPOSITORY, Project
from ameide_secrets.rules import tenancy

from helpers import discover, project_tree

FIXTURE = REPOSITORY / "tests" / "fixtures" / "legacy-vault-secrets.yaml"


@pytest.fixture
def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, Path]:
    """`import` of the fixture as team `growth` into a copy of the repository; (exit code, out, err, workloads tree)."""
    root = project_tree(tmp_path)
    code = verb.main(["import", str(FIXTURE), "--team", "growth", "--rollout", "staging", "--root", str(root)])
    out, err = capsys.readouterr()
    return code, out, err, root / "workloads"


def rendered(stack: str, root: Path = REPOSITORY) -> list[dict[str, Any]]:
    """The ExternalSecrets `stack` of the project at `root` owns."""
    return [o.manifest for o in Project(root).stack(stack).objects if o.kind == "ExternalSecret"]


def test_import_when_legacy_rendering_then_one_module_per_prefix_and_unprefixed_key_refused(imported) -> None:
    code, out, err, tree = imported
    assert code == 1  # one object could not be expressed
    assert out.splitlines() == [
        "wrote workloads/growth/billing.py",
        "wrote workloads/growth/search.py",
        "updated platform/tenants.yaml: namespaces, workloads and legacy entries, for the platform team's review",
    ]
    assert "refused: ExternalSecret billing/mailer: key 'mailer-smtp-password' has no prefix" in err
    assert "vault kv put secret/<workload>/mailer-smtp-password" in err
    assert not (tree / "growth" / "mailer.py").exists()


def test_import_when_written_then_modules_are_data_and_render_the_legacy_objects_identically(imported) -> None:
    *_, tree = imported
    declared = {d.args.workload: d for d in discover(tree)}  # parses every module as data
    billing = declared["billing"].args
    assert (billing.team, billing.namespace, billing.rollout, billing.adopt) == ("growth", "billing", "staging", True)
    legacy_objects = [o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] != "mailer"]
    rows = list(legacy.compare(legacy_objects, rendered("staging", tree.parent), set()))
    assert {(r.namespace, r.name): r.status for r in rows if r.namespace in {"billing", "search"}} == {
        ("billing", "billing-secrets"): "same",
        ("billing", "billing-stripe"): "same",
        ("search", "search-api"): "same",
    }
    source = (tree / "growth" / "billing.py").read_text()
    assert '"username": RemoteRef(key="billing/login", property="username"),' in source
    assert 'RemoteRef(key="billing/login", property="password", decoding_strategy="Base64")' in source
    assert 'data_from=["billing/stripe-extra"],' in source
    # The chart read the whole secret (no property): the module keeps that, so no value changes on adoption.
    assert '"API_KEY": RemoteRef(key="search/api"),' in (tree / "growth" / "search.py").read_text()


def test_plan_when_a_legacy_ref_reads_the_string_forms_field_then_written_as_the_string_form() -> None:
    objects = legacy.load([FIXTURE])
    search = next(o for o in objects if o["metadata"]["name"] == "search-api")
    search["spec"]["data"][0]["remoteRef"]["property"] = "value"
    plan = legacy.plan_import([search], "growth", "local", {}, "ameide-vault", "value")
    [source] = plan.modules.values()
    assert '"API_KEY": "search/api",' in source


def test_import_when_registry_present_then_team_granted_its_workloads_and_objects_keeping_its_comments(
    imported, tmp_path: Path
) -> None:
    text = (tmp_path / tenancy.REGISTRY_PATH).read_text()
    assert text.startswith("# The access registry")
    registry = yaml.safe_load(text)
    assert registry["teams"]["growth"]["namespaces"] == ["billing", "search"]
    assert set(registry["teams"]["growth"]["workloads"]) >= {"billing", "search"}
    assert {k: registry["legacy"][k] for k in ("billing/billing-secrets", "billing/billing-stripe", "search/search-api")} == {
        "billing/billing-secrets": "growth",
        "billing/billing-stripe": "growth",
        "search/search-api": "growth",
    }


def test_import_when_run_again_then_existing_modules_not_overwritten_without_force(imported, tmp_path: Path, capsys) -> None:
    *_, tree = imported
    (tree / "growth" / "billing.py").write_text("# edited by hand\n")
    code = verb.main(["import", str(FIXTURE), "--team", "growth", "--root", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "refused: workloads/growth/billing.py exists: not overwritten (pass --force to replace it)" in err
    assert (tree / "growth" / "billing.py").read_text() == "# edited by hand\n"


def test_compare_when_a_field_changed_then_differs_naming_the_path_and_both_values(imported) -> None:
    *_, tree = imported
    legacy_objects = legacy.load([FIXTURE])
    changed = copy.deepcopy(legacy_objects)
    stripe = next(o for o in changed if o["metadata"]["name"] == "billing-stripe")
    stripe["spec"]["data"][0]["remoteRef"]["property"] = "secret"
    rows = {(r.namespace, r.name): r for r in legacy.compare(changed, rendered("staging", tree.parent), set())}
    row = rows[("billing", "billing-stripe")]
    assert row.status == "differs"
    assert row.fields == {"spec.data[STRIPE_KEY].remoteRef.property": {"legacy": "secret", "owned": "key"}}
    assert rows[("billing", "mailer")].status == "legacy-only"


def test_compare_when_only_the_store_moved_then_same_with_the_move_shown_as_expected(
    imported, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chart reads through its own store: that difference is the point of the migration, not a finding."""
    *_, tree = imported
    objects = legacy.load([FIXTURE])
    for obj in objects:
        obj["spec"]["secretStoreRef"] = {"kind": "ClusterSecretStore", "name": "vault-secrets-legacy"}
    rows = {(r.namespace, r.name): r for r in legacy.compare(objects, rendered("staging", tree.parent), set())}
    row = rows[("billing", "billing-stripe")]
    assert (row.status, row.fields) == ("same", {})
    assert row.expected == {
        "spec.secretStoreRef": {"legacy": "ClusterSecretStore vault-secrets-legacy", "owned": "ClusterSecretStore ameide-vault"}
    }
    # The repository's own adopted object is in the chart too, or it would be `new` and adopted: a finding.
    adopted = [copy.deepcopy(o) for o in rendered("staging", tree.parent) if o["metadata"]["name"] == "alertmanager-oauth2-proxy"]
    for obj in adopted:
        obj["spec"]["secretStoreRef"] = {"kind": "ClusterSecretStore", "name": "vault-secrets-legacy"}
    chart = tmp_path / "chart.yaml"
    chart.write_text(yaml.safe_dump_all(objects + adopted))
    code = verb.main(["compare", str(chart), "--stack", "staging", "--root", str(tree.parent)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert (
        '    spec.secretStoreRef: legacy "ClusterSecretStore vault-secrets-legacy", owned "ClusterSecretStore ameide-vault" '
        "(expected: the migration moves it to the platform store)"
    ) in out.splitlines()


def test_compare_when_stack_owns_objects_the_chart_lacks_then_new_and_adopting_one_is_an_error() -> None:
    owned = rendered("staging")
    adopted = {"monitoring/alertmanager-oauth2-proxy"}
    rows = {(r.namespace, r.name): r for r in legacy.compare([], owned, adopted)}
    assert rows[("monitoring", "alertmanager-oauth2-proxy")].fields == {"adopt": {"legacy": None, "owned": True}}
    assert rows[("ameide", "agents-db")].status == "new"
    assert rows[("ameide", "agents-db")].fields == {}


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda s: s["target"].update(template={"data": {"x": "{{ .y }}"}}), "spec.target.template.data is not modelled"),
        (lambda s: s.update(dataFrom=[{"find": {"path": "search/"}}]), "spec.dataFrom[0].find is not modelled"),
        (lambda s: s["data"][0].update(sourceRef={"generatorRef": {"kind": "Password"}}), "spec.data[0].sourceRef"),
        (
            lambda s: s.update(secretStoreRef={"kind": "SecretStore", "name": "team-vault"}),
            "spec.secretStoreRef is SecretStore 'team-vault'",
        ),
        # No kind: ESO reads the namespace's SecretStore of that name, not the platform's ClusterSecretStore.
        (lambda s: s.update(secretStoreRef={"name": "ameide-vault"}), "spec.secretStoreRef is SecretStore 'ameide-vault'"),
        (
            lambda s: s["target"].update(template={"templateFrom": [{"configMap": {"name": "t", "items": [{"key": "k"}]}}]}),
            "spec.target.template.templateFrom is not modelled",
        ),
        (
            lambda s: s.update(
                dataFrom=[{"extract": {"key": "search/api"}, "rewrite": [{"regexp": {"source": "x", "target": "y"}}]}]
            ),
            "spec.dataFrom[0].rewrite is not modelled",
        ),
    ],
)
def test_to_declaration_when_field_not_modelled_then_refused_naming_object_and_field(change: Any, refusal: str) -> None:
    obj = copy.deepcopy(next(o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] == "search-api"))
    obj["spec"].setdefault("target", {})
    change(obj["spec"])
    plan = legacy.plan_import([obj], "growth", "local", {}, "ameide-vault", "value")
    assert plan.modules == {}
    assert any(line.startswith("ExternalSecret search/search-api: ") and refusal in line for line in plan.refused), plan.refused


def test_plan_when_map_names_team_and_workload_then_module_goes_there() -> None:
    mapping = {"search/search-api": {"team": "payments", "workload": "search"}}
    plan = legacy.plan_import(legacy.load([FIXTURE]), "growth", "local", mapping, "ameide-vault", "value")
    assert sorted(str(p) for p in plan.modules) == ["workloads/growth/billing.py", "workloads/payments/search.py"]
    assert plan.namespaces == {"growth": {"billing"}, "payments": {"search"}}


def test_plan_when_map_names_a_workload_its_keys_are_not_under_then_refused() -> None:
    mapping = {"billing/billing-stripe": {"workload": "stripe"}}
    plan = legacy.plan_import(legacy.load([FIXTURE]), "growth", "local", mapping, "ameide-vault", "value")
    assert any(
        line.startswith("workload stripe: ") and "outside the workload's prefix 'stripe/'" in line for line in plan.refused
    )


def test_load_when_an_externalsecret_is_of_another_api_group_then_it_is_not_a_legacy_object(tmp_path: Path) -> None:
    objects = legacy.load([FIXTURE])
    foreign = copy.deepcopy(next(o for o in objects if o["metadata"]["name"] == "search-api"))
    foreign["apiVersion"] = "example.com/v1"
    foreign["metadata"]["name"] = "foreign"
    chart = tmp_path / "chart.yaml"
    chart.write_text(
        yaml.safe_dump_all([*objects, foreign, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}])
    )
    assert [o["metadata"]["name"] for o in legacy.load([chart])] == [o["metadata"]["name"] for o in objects]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda s: s["target"].update(template={"templateFrom": [{"configMap": {"name": "t"}}]}), "spec.target.template.templateFrom"),
        (lambda s: s["target"].update(template={"data": {"API_KEY": "{{ .x | upper }}"}}), "spec.target.template.data"),
        (lambda s: s.update(dataFrom=[{**s["dataFrom"][0], "rewrite": [{"regexp": {"source": "x", "target": "y"}}]}]), "spec.dataFrom[0].rewrite"),
    ],
)  # fmt: skip
def test_compare_when_the_chart_rewrites_values_then_differs_naming_the_field(imported, change: Any, path: str) -> None:
    """A template or rewrite changes the Secret's values: the owned twin, which has none, is not `same`."""
    *_, tree = imported
    objects = [o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] != "mailer"]
    billing = next(o for o in objects if o["metadata"]["name"] == "billing-stripe")
    billing["spec"].setdefault("target", {})
    billing["spec"].setdefault("dataFrom", [{"extract": {"key": "billing/stripe-extra"}}])
    change(billing["spec"])
    rows = {(r.namespace, r.name): r for r in legacy.compare(objects, rendered("staging", tree.parent), set())}
    row = rows[("billing", "billing-stripe")]
    assert row.status == "differs"
    assert path in row.fields
    assert row.fields[path]["owned"] is None


def _chart(tmp_path: Path, objects: list[dict[str, Any]]) -> Path:
    chart = tmp_path / "chart.yaml"
    chart.write_text(yaml.safe_dump_all(objects))
    return chart


@pytest.mark.parametrize(
    ("case", "code", "line"),
    [
        # Every owned object's twin in the chart, only the store moved: clean.
        ("same", 0, "same                   monitoring/alertmanager-oauth2-proxy"),
        # The adopted object is not in the chart: adopting takes over something nobody reviewed.
        ("adopted-missing", 1, "new                    monitoring/alertmanager-oauth2-proxy"),
        # A field of the twin differs.
        ("differs", 1, "differs                monitoring/alertmanager-oauth2-proxy"),
        # Only objects the stack does not adopt are missing from the chart: new, not a finding.
        ("not-adopted-missing", 0, "legacy-only            billing/billing-stripe"),
    ],
)
def test_compare_command_when_run_then_exit_code_says_whether_the_takeover_is_safe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, code: int, line: str
) -> None:
    owned = rendered("staging")
    adopted = [copy.deepcopy(o) for o in owned if o["metadata"]["name"] == "alertmanager-oauth2-proxy"]
    for obj in adopted:
        obj["spec"]["secretStoreRef"] = {"kind": "ClusterSecretStore", "name": "vault-secrets-legacy"}
        if case == "differs":
            obj["spec"]["refreshInterval"] = "15m"
    chart = {
        "same": adopted,
        "adopted-missing": [o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] == "billing-stripe"],
        "differs": adopted,
        "not-adopted-missing": [*adopted, *(o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] == "billing-stripe")],
    }[case]
    assert verb.main(["compare", str(_chart(tmp_path, chart)), "--stack", "staging", "--root", str(REPOSITORY)]) == code
    out = capsys.readouterr().out
    assert line in out.splitlines()
    if case == "adopted-missing":
        assert "    adopt: legacy null, owned true" in out.splitlines()


def test_compare_command_when_chart_unreadable_then_exit_1_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verb.main(["compare", str(tmp_path / "missing.yaml"), "--stack", "staging", "--root", str(REPOSITORY)]) == 1
    assert "missing.yaml: cannot read it as YAML" in capsys.readouterr().err


def test_import_command_when_every_object_can_be_imported_then_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "project").mkdir()
    root = project_tree(tmp_path / "project")
    chart = _chart(tmp_path, [o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] != "mailer"])
    assert verb.main(["import", str(chart), "--team", "growth", "--root", str(root)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "wrote workloads/growth/billing.py" in out.splitlines()


def test_plan_when_an_objects_keys_span_two_workload_prefixes_then_refused_asking_for_a_map() -> None:
    obj = copy.deepcopy(next(o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] == "search-api"))
    obj["spec"]["data"].append({"secretKey": "OTHER", "remoteRef": {"key": "billing/x", "property": "value"}})
    plan = legacy.plan_import([obj], "growth", "local", {}, "ameide-vault", "value")
    assert plan.modules == {}
    assert plan.refused == [
        "ExternalSecret search/search-api: its keys are under ['billing', 'search']: no single workload prefix (name the workload in --map)"
    ]


def test_plan_when_an_extract_sets_a_non_default_field_then_written_as_remote_ref_keeping_it() -> None:
    """An extract whose decoding differs from ESO's default stays a RemoteRef, so adoption changes no value."""
    obj = copy.deepcopy(next(o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] == "search-api"))
    obj["spec"]["dataFrom"] = [
        {"extract": {"key": "search/all", "decodingStrategy": "Base64", "conversionStrategy": "Default"}},
        {"extract": {"key": "search/plain", "decodingStrategy": "None"}},
    ]
    [source] = legacy.plan_import([obj], "growth", "local", {}, "ameide-vault", "value").modules.values()
    assert 'data_from=[RemoteRef(key="search/all", decoding_strategy="Base64"), "search/plain"],' in source


def test_compare_command_when_json_then_one_object_per_row_with_status_and_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = _chart(tmp_path, [o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] == "billing-stripe"])
    assert verb.main(["compare", str(chart), "--stack", "staging", "--root", str(REPOSITORY), "--format", "json"]) == 1
    rows = {(r["namespace"], r["name"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("billing", "billing-stripe")]["status"] == "legacy-only"
    assert rows[("monitoring", "alertmanager-oauth2-proxy")] == {
        "namespace": "monitoring",
        "name": "alertmanager-oauth2-proxy",
        "status": "new",
        "fields": {"adopt": {"legacy": None, "owned": True}},
        "expected": {},
    }


def test_to_declaration_when_a_ref_holds_unknown_or_null_fields_then_only_esos_set_fields_are_kept() -> None:
    obj = copy.deepcopy(next(o for o in legacy.load([FIXTURE]) if o["metadata"]["name"] == "search-api"))
    obj["spec"]["data"][0]["remoteRef"] = {"key": "search/api", "property": None, "nonsense": "x", "version": "2"}
    item = legacy.to_declaration(obj, "ameide-vault")
    assert item.spec["data"]["API_KEY"] == {"key": "search/api", "version": "2"}
