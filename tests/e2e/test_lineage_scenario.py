"""Who reads what, on the real loopback clusters: `lineage`, the diff's blast radius, and key ages.

A team module the program has never seen (`lineage-demo`: three `data` keys, one `data_from` copy) is
deployed to staging by `pulumi up`; then workloads that consume secrets in every form are created as the
cluster admin — no kubelet is needed, their objects and pod templates are enough. `lineage` must report
exactly their edges, unused key, broken and optional references and undeclared Secrets, as the platform
identity (which lists Secrets' key names) and as the preview identity (which may not). A diff removing a
consumed key names its readers and fails. On staging's OpenBao, the audit policy reads metadata only,
rotating a value makes it young again, and an overdue key fails `vault-check --max-age`. Canaries planted
in a Secret, in a literal env value and in Vault never appear in any output.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ameide_secrets.offline.crd_schema import crds_dir
from ameide_secrets.project import REPOSITORY
from ameide_secrets.render import vault_plan
from lab import testenv
from lab.testenv import project_copy
from lab.vault import random_value

from .cluster import Environment, eventually, synced_object
from helpers import doc_block, grant_workload

NS = "ameide"
MODULE = "workloads/web/lineage_demo.py"
MOUNT = "secret"
CANARY = random_value()
DEMO = textwrap.dedent(
    '''
    """lineage-demo: keys read in every way a pod can read them, one read by nobody, one copied whole."""

    from components import ExternalSecretSpec, WorkloadSecretsArgs

    WORKLOAD = WorkloadSecretsArgs(
        workload="lineage-demo",
        team="web",
        namespace="ameide",
        rollout="staging",
        external_secrets=[
            ExternalSecretSpec(
                name="lineage-demo",
                data={
                    "API_KEY": "lineage-demo/api-key",
                    "DB_PASSWORD": {"key": "lineage-demo/db", "property": "password"},
                    "UNUSED": "lineage-demo/unused",
                },
            ),
            ExternalSecretSpec(name="lineage-demo-copy", type="kubernetes.io/basic-auth", data_from=["lineage-demo/login"]),
        ],
    )
    '''
)


def ref(name: str, key: str, optional: bool = False) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key, **({"optional": True} if optional else {})}}


def template(app: str, pod: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": pod}


def workloads() -> list[dict[str, Any]]:
    """Every consumption form, one workload of each kind (none runs: replicas 0, suspended, no node)."""
    web = {
        "initContainers": [{"name": "migrate", "image": "x", "env": [{"name": "DB_PASSWORD", "valueFrom": ref("lineage-demo", "DB_PASSWORD")}]}],
        "containers": [{"name": "app", "image": "x", "env": [
            {"name": "LITERAL", "value": CANARY},
            {"name": "API_KEY", "valueFrom": ref("lineage-demo", "API_KEY")},
            {"name": "MISSING", "valueFrom": ref("lineage-demo", "NOT_THERE")},
            {"name": "MAYBE", "valueFrom": ref("lineage-demo", "MAYBE", optional=True)},
        ]}],
    }  # fmt: skip
    db = {
        "containers": [
            {"name": "db", "image": "x", "envFrom": [{"prefix": "LOGIN_", "secretRef": {"name": "lineage-demo-copy"}}]}
        ]
    }
    worker = {
        "containers": [
            {"name": "worker", "image": "x", "env": [{"name": "USER", "valueFrom": ref("lineage-demo-copy", "username")}]}
        ]
    }
    report = {
        "restartPolicy": "Never",
        "containers": [{"name": "report", "image": "x", "volumeMounts": [{"name": "creds", "mountPath": "/creds"}]}],
        "volumes": [{"name": "creds", "projected": {"sources": [{"secret": {"name": "lineage-demo", "items": [{"key": "DB_PASSWORD", "path": "db/pw"}]}}]}}],
    }  # fmt: skip
    once = {
        "restartPolicy": "Never",
        "containers": [{"name": "once", "image": "x", "volumeMounts": [{"name": "hm", "mountPath": "/hm"}]}],
        "volumes": [{"name": "hm", "secret": {"secretName": "hand-made"}}],
    }
    plausible = {
        "containers": [
            {
                "name": "app",
                "image": "x",
                "env": [{"name": "SECRET_KEY_BASE", "valueFrom": ref("plausible-secrets", "SECRET_KEY_BASE")}],
            }
        ]
    }
    agent = {"imagePullSecrets": [{"name": "registry-missing"}], "containers": [{"name": "agent", "image": "x"}]}
    pod = {
        "automountServiceAccountToken": False,
        "containers": [{"name": "pod", "image": "x", "envFrom": [{"secretRef": {"name": "absent-optional", "optional": True}}],
                        "volumeMounts": [{"name": "k", "mountPath": "/k"}]}],
        "volumes": [{"name": "k", "secret": {"secretName": "lineage-demo", "items": [{"key": "API_KEY", "path": "api-key"}]}}],
    }  # fmt: skip

    def meta(name: str) -> dict[str, Any]:
        return {"name": name, "namespace": NS}

    selector = {"matchLabels": {"app": "demo"}}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("hand-made"), "stringData": {"token": CANARY}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("demo-web"),
         "spec": {"replicas": 0, "selector": selector, "template": template("demo", web)}},
        # The runbook's rotation restarts it (docs/runbook.md, "Rotate a secret").
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("plausible"),
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "plausible"}}, "template": template("plausible", plausible)}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("demo-db"),
         "spec": {"replicas": 0, "serviceName": "demo-db", "selector": selector, "template": template("demo", db)}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta("demo-rs"),
         "spec": {"replicas": 0, "selector": selector, "template": template("demo", worker)}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("demo-report"),
         "spec": {"schedule": "0 0 1 1 *", "suspend": True, "jobTemplate": {"spec": {"template": template("report", report)}}}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("demo-once"),
         "spec": {"suspend": True, "template": template("once", once)}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta("demo-agent"),
         "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template("agent", agent)}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta("demo-pod"), "spec": pod},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    root = tmp_path_factory.mktemp("lineage")
    project = project_copy(root / "project")
    grant_workload(project, "web", "lineage-demo")
    (project / MODULE).write_text(DEMO)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    for args in (["init", "--quiet"], ["add", "-A"], ["commit", "--quiet", "-m", "lineage-demo"]):
        subprocess.run([*git, *args], cwd=project, check=True, capture_output=True)
    with testenv.running(root / "testenv", project) as state:
        environment = Environment(root / "testenv", project, state)
        environment.stack("up", "staging", "--yes", "--skip-preview")
        kube = environment.kube("staging")
        eventually("lineage-demo synced", lambda: synced_object(kube, NS, "lineage-demo"))
        eventually("lineage-demo-copy synced", lambda: synced_object(kube, NS, "lineage-demo-copy"))
        kube.ctl("apply", "-f", "-", stdin=yaml.safe_dump_all(workloads()))
        yield environment


def tool(env: Environment, verb: str, *args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`ameide-secrets <verb> --stack staging` in the project copy."""
    return subprocess.run(
        [str(env.project / ".venv/bin/python"), "-m", "ameide_secrets", verb, "--stack", "staging", *args],
        cwd=env.project, env=environ or testenv.pulumi_env(env.directory, env.state), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def vault_values(env: Environment) -> list[str]:
    """Every value Vault holds under lineage-demo/: none may appear in an output."""
    vault = env.vault("staging")
    keys = vault.ok("LIST", f"{MOUNT}/metadata/lineage-demo/")["data"]["keys"]
    return [v for key in keys for v in vault.ok("GET", f"{MOUNT}/data/lineage-demo/{key}")["data"]["data"].values()]


def consumer(kind: str, name: str, container: str | None, via: str, field: str) -> dict[str, Any]:
    return {"kind": kind, "namespace": NS, "name": name, "container": container, "via": via, "field": field}


WEB = "spec.template.spec"
WEB_APP = consumer("Deployment", "demo-web", "app", "env", f"{WEB}.containers[0].env[1].valueFrom.secretKeyRef")
POD = consumer("Pod", "demo-pod", "pod", "volume", "spec.volumes[0].secret")
REPORT = consumer(
    "CronJob", "demo-report", "report", "projected", "spec.jobTemplate.spec.template.spec.volumes[0].projected.sources[0].secret"
)
MIGRATE = consumer("Deployment", "demo-web", "migrate", "env", f"{WEB}.initContainers[0].env[0].valueFrom.secretKeyRef")
DB = consumer("StatefulSet", "demo-db", "db", "envFrom", f"{WEB}.containers[0].envFrom[0].secretRef")
WORKER = consumer("ReplicaSet", "demo-rs", "worker", "env", f"{WEB}.containers[0].env[0].valueFrom.secretKeyRef")
AGENT = consumer("DaemonSet", "demo-agent", None, "imagePullSecrets", f"{WEB}.imagePullSecrets[0]")
MISSING = consumer("Deployment", "demo-web", "app", "env", f"{WEB}.containers[0].env[2].valueFrom.secretKeyRef")
MAYBE = consumer("Deployment", "demo-web", "app", "env", f"{WEB}.containers[0].env[3].valueFrom.secretKeyRef")
ABSENT = consumer("Pod", "demo-pod", "pod", "envFrom", "spec.containers[0].envFrom[0].secretRef")
ONCE = consumer("Job", "demo-once", "once", "volume", f"{WEB}.volumes[0].secret")


def edge(
    secret: str,
    key: str,
    vault: str,
    who: dict[str, Any],
    source: str = "data",
    env: str | None = None,
    path: str | None = None,
    module: str = MODULE,
    team: str = "web",
) -> dict[str, Any]:
    vault_key, prop = vault.split("#")
    return {
        "vault_key": vault_key, "property": prop, "external_secret": secret, "namespace": NS, "secret": secret,
        "secret_key": key, "source": source, "module": module, "team": team, "consumer": who, "optional": False,
        "env": env, "path": path,
    }  # fmt: skip


COPY = "lineage-demo-copy"
EDGES = [
    edge("lineage-demo", "API_KEY", "lineage-demo/api-key#value", WEB_APP, env="API_KEY"),
    edge("lineage-demo", "API_KEY", "lineage-demo/api-key#value", POD, path="api-key"),
    edge("lineage-demo", "DB_PASSWORD", "lineage-demo/db#password", REPORT, path="db/pw"),
    edge("lineage-demo", "DB_PASSWORD", "lineage-demo/db#password", MIGRATE, env="DB_PASSWORD"),
    edge(COPY, "password", "lineage-demo/login#password", DB, source="data_from", env="LOGIN_password"),
    edge(COPY, "username", "lineage-demo/login#username", WORKER, source="data_from", env="USER"),
    edge(COPY, "username", "lineage-demo/login#username", DB, source="data_from", env="LOGIN_username"),
    edge("plausible-secrets", "SECRET_KEY_BASE", "plausible/secret-key-base#value",
         consumer("Deployment", "plausible", "app", "env", f"{WEB}.containers[0].env[0].valueFrom.secretKeyRef"),
         env="SECRET_KEY_BASE", module="workloads/analytics/plausible.py", team="analytics"),
]  # fmt: skip
NOWHERE = "does not exist, and no ExternalSecret of the stack writes it nor does a module list it"
BROKEN = [
    {"consumer": AGENT, "secret": "registry-missing", "key": None, "optional": False, "problem": f"Secret registry-missing {NOWHERE}"},
    {"consumer": MISSING, "secret": "lineage-demo", "key": "NOT_THERE", "optional": False,
     "problem": f"ExternalSecret lineage-demo ({MODULE}) writes no key 'NOT_THERE' into Secret lineage-demo"},
]  # fmt: skip
OPTIONAL = [
    {"consumer": MAYBE, "secret": "lineage-demo", "key": "MAYBE", "optional": True,
     "problem": f"ExternalSecret lineage-demo ({MODULE}) writes no key 'MAYBE' into Secret lineage-demo"},
    {"consumer": ABSENT, "secret": "absent-optional", "key": None, "optional": True, "problem": f"Secret absent-optional {NOWHERE}"},
]  # fmt: skip
UNDECLARED = [
    {"namespace": NS, "secret": "absent-optional", "exists": False, "consumers": [ABSENT]},
    {"namespace": NS, "secret": "hand-made", "exists": True, "consumers": [ONCE]},
    {"namespace": NS, "secret": "registry-missing", "exists": False, "consumers": [AGENT]},
]


def test_lineage_when_workloads_consume_in_every_form_then_json_reports_exactly_them(env: Environment) -> None:
    completed = tool(env, "lineage", "--format", "json")
    assert completed.returncode == 1, completed.stderr  # two broken references
    report = json.loads(completed.stdout)
    assert (report["stack"], report["secret_keys_read"]) == ("staging", True)
    assert report["edges"] == EDGES
    assert report["broken_refs"] == BROKEN
    assert report["optional_broken_refs"] == OPTIONAL
    assert report["undeclared"] == UNDECLARED
    demo_unused = [(u["secret"], u["secret_key"], u["vault_key"]) for u in report["unused_keys"] if u["module"] == MODULE]
    assert demo_unused == [("lineage-demo", "UNUSED", "lineage-demo/unused")]
    # Every other workload of the stack has no consumer here: its keys are all unused, none is read.
    read = {(e["secret"], e["secret_key"]) for e in report["edges"]}
    assert not [u for u in report["unused_keys"] if (u["secret"], u["secret_key"]) in read]
    assert {u["secret"] for u in report["unused_keys"]} >= {"plausible-secrets", "keycloak-db"}


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "dot"])
def test_lineage_when_any_format_then_no_value_from_a_secret_a_pod_spec_or_vault(env: Environment, fmt: str) -> None:
    completed = tool(env, "lineage", "--format", fmt)
    assert completed.returncode == 1, completed.stderr
    shown = completed.stdout + completed.stderr
    assert "demo-web" in shown
    assert [value for value in [CANARY, *vault_values(env)] if value in shown] == []


def preview_kubeconfig(env: Environment, path: Path) -> Path:
    """A kubeconfig whose user is the stack's previewIdentity (a service account token), context ameide-staging."""
    admin = env.kube("staging")
    admin.ctl("create", "namespace", "ameide-ci", check=False)
    admin.ctl("create", "serviceaccount", "ameide-secrets-preview", "-n", "ameide-ci", check=False)
    token = admin.ctl("create", "token", "ameide-secrets-preview", "-n", "ameide-ci", "--duration", "1h").stdout.strip()
    config = yaml.safe_load(testenv.kubeconfig(env.directory).read_text())
    [cluster] = [c for c in config["clusters"] if c["name"] == "ameide-staging"]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
        "users": [{"name": "preview", "user": {"token": token}}],
        "contexts": [{"name": "ameide-staging", "context": {"cluster": "ameide-staging", "user": "preview"}}],
    }))  # fmt: skip
    return path


def test_lineage_when_run_as_the_preview_identity_then_reports_without_secrets_rights(env: Environment, tmp_path: Path) -> None:
    environ = {
        **testenv.pulumi_env(env.directory, env.state),
        "KUBECONFIG": str(preview_kubeconfig(env, tmp_path / "kubeconfig")),
    }
    refused = subprocess.run(
        [str(testenv.engines_bin() / "kubectl"), "--context", "ameide-staging", "get", "secrets", "-n", NS],
        env=environ, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert "forbidden" in refused.stderr
    completed = tool(env, "lineage", "--format", "json", environ=environ)
    assert completed.returncode == 1, completed.stderr
    assert "listing secrets in ameide" in completed.stderr
    report = json.loads(completed.stdout)
    assert report["secret_keys_read"] is False
    # What the declarations alone say is still judged: data keys, and a key no `data` entry writes.
    assert [e for e in EDGES if e["source"] == "data"] == [e for e in report["edges"] if e["source"] == "data"]
    assert BROKEN[1] in report["broken_refs"]
    assert [(u["secret"], u["exists"]) for u in report["undeclared"]] == [(u["secret"], None) for u in UNDECLARED]


def test_diff_when_a_consumed_key_is_removed_then_names_its_readers_and_fails_unless_allowed(
    env: Environment, tmp_path: Path
) -> None:
    report = tmp_path / "lineage.json"
    assert tool(env, "lineage", "--output", str(report)).returncode == 1
    module = env.project / MODULE
    saved = module.read_text()
    module.write_text(saved.replace('"API_KEY": "lineage-demo/api-key",', ""))
    try:
        args = ["--base", "HEAD", "--format", "markdown", "--lineage", str(report)]
        # The copy has no .cache: the offline previews validate against the checkout's CRDs.
        environ = {**testenv.pulumi_env(env.directory, env.state), "ESO_CRDS_DIR": str(crds_dir(REPOSITORY))}
        failed = tool(env, "diff", *args, environ=environ)
        allowed = tool(env, "diff", *args, "--allow-breaking", environ=environ)
    finally:
        module.write_text(saved)
    assert (failed.returncode, allowed.returncode) == (1, 0), failed.stderr + allowed.stderr
    assert failed.stderr.strip() == "1 removed Secret key still read by a container: pass --allow-breaking to accept"
    assert (
        "- 💥 **breaking** `ameide/lineage-demo[API_KEY]` (`ExternalSecret lineage-demo`): "
        "`no longer written (was lineage-demo/api-key#value)`; read by: `Deployment ameide/demo-web (container app) via env`, "
        "`Pod ameide/demo-pod (container pod) via volume`"
    ) in failed.stdout
    assert "Allowed with `--allow-breaking`" in allowed.stdout


def audit(env: Environment) -> dict[str, str]:
    """vault-check's environment with a token carrying only the stack's audit policy (lab.testenv applied it)."""
    vault = env.vault("staging")
    token = vault.create_token([vault_plan.audit_policy_name(testenv.stack_for(env.directory, "staging", env.project).settings)])
    return {**testenv.pulumi_env(env.directory, env.state), "VAULT_ADDR": vault.address, "VAULT_TOKEN": token,
            "VAULT_CACERT": str(vault.ca_file)}  # fmt: skip


def test_audit_token_when_used_then_reads_and_lists_metadata_and_never_a_value(env: Environment) -> None:
    auditor = env.vault("staging").as_token(audit(env)["VAULT_TOKEN"])
    assert auditor.request("GET", f"{MOUNT}/metadata/lineage-demo/api-key")[0] == 200
    assert auditor.request("LIST", f"{MOUNT}/metadata/lineage-demo/")[0] == 200
    assert auditor.request("GET", f"{MOUNT}/data/lineage-demo/api-key")[0] == 403
    assert auditor.request("POST", f"{MOUNT}/data/lineage-demo/api-key", {"data": {"value": "x"}})[0] == 403
    assert auditor.request("GET", f"{MOUNT}/metadata/not-declared/x")[0] == 403


def overdue(env: Environment, bound: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    completed = tool(env, "vault-check", "--config-file", str(env.directory / "Pulumi.staging.yaml"), "--max-age", bound,
                     "--format", "json", environ=audit(env))  # fmt: skip
    by_key = {f["extra"]["key"]: f for f in json.loads(completed.stdout)}
    return completed.returncode, by_key, completed.stdout + completed.stderr


def test_rotation_when_value_rotated_then_its_age_restarts_and_an_overdue_key_fails_vault_check(env: Environment) -> None:
    vault, key = env.vault("staging"), "lineage-demo/api-key"
    created = vault.ok("GET", f"{MOUNT}/metadata/{key}")["data"]["created_time"]
    age = (datetime.now(UTC) - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds()
    time.sleep(max(0.0, 31 - age))
    code, before, shown = overdue(env, "30s")
    assert code == 1
    assert before[key]["extra"]["bound"] == "30s"
    assert int(before[key]["extra"]["age_seconds"]) >= 30
    assert "older than 30s (--max-age)" in before[key]["message"]
    rotated = random_value()
    vault.write_kv2(MOUNT, key, {"value": rotated})
    code, after, shown_after = overdue(env, "30s")
    assert key not in after, after.get(key)
    assert code == 1  # the keys seeded when the environment came up are older than 30s still
    assert overdue(env, "1h")[0] == 0
    assert [v for v in [rotated, CANARY, *vault_values(env)] if v in shown + shown_after] == []


def test_runbook_when_rotation_block_runs_as_written_then_readers_named_secret_follows_and_reader_restarted(
    env: Environment,
) -> None:
    (env.directory / "env.sh").write_text(testenv.exports(env.directory))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_", "KUBECONFIG", "AMEIDE_"))}
    script = doc_block("docs/runbook.md", "## Rotate a secret").replace("/tmp/ameide-env", str(env.directory))
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=env.project, env=clean, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert (
        "plausible/secret-key-base#value -> ExternalSecret plausible-secrets -> Secret ameide/plausible-secrets[SECRET_KEY_BASE] "
        "-> Deployment ameide/plausible (container app) via env as $SECRET_KEY_BASE"
    ) in completed.stdout
    rotated = env.vault("staging").ok("GET", f"{MOUNT}/data/plausible/secret-key-base")["data"]
    assert rotated["metadata"]["version"] >= 2
    kube = env.kube("staging")
    eventually(
        "the rotated value in the Secret",
        lambda: kube.secret_data(NS, "plausible-secrets").get("SECRET_KEY_BASE") == rotated["data"]["value"].encode(),
        timeout=30,
    )
    deployment = kube.get("deployment", NS, "plausible")
    assert deployment is not None
    assert "kubectl.kubernetes.io/restartedAt" in deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert rotated["data"]["value"] not in completed.stdout + completed.stderr
