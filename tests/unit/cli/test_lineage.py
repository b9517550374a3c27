"""`ameide-secrets lineage` end to end against an API server stand-in: every format, exit codes, and canaries
planted in Secret data, literal env values and annotations that never reach any output."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ameide_secrets.cli import lineage as verb
from ameide_secrets.clients import kubernetes
from ameide_secrets.lineage import formats

CANARY = "canary-7d1f3b-never-in-a-report"
ENCODED = base64.b64encode(CANARY.encode()).decode()
NS = "ameide"


def pod_template(*containers: dict[str, Any], **pod: Any) -> dict[str, Any]:
    return {"template": {"metadata": {"annotations": {"note": CANARY}}, "spec": {"containers": list(containers), **pod}}}


WORKLOADS: dict[str, list[dict[str, Any]]] = {
    "deployments": [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "namespace": NS,
                "name": "plausible",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": CANARY},
            },
            "spec": {
                "selector": {"matchLabels": {"app": "plausible"}},
                **pod_template(
                    {
                        "name": "app",
                        "image": "plausible",
                        "env": [
                            {"name": "LITERAL", "value": CANARY},
                            {
                                "name": "SECRET_KEY_BASE",
                                "valueFrom": {"secretKeyRef": {"name": "plausible-secrets", "key": "SECRET_KEY_BASE"}},
                            },
                            {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "plausible-secrets", "key": "GONE"}}},
                            {
                                "name": "MAYBE",
                                "valueFrom": {"secretKeyRef": {"name": "plausible-secrets", "key": "MAYBE", "optional": True}},
                            },
                        ],
                        "envFrom": [{"secretRef": {"name": "hand-made"}, "prefix": "H_"}],
                    },
                    imagePullSecrets=[{"name": "registry"}],
                ),
            },
        }
    ],
}
SECRETS: list[dict[str, Any]] = [
    {"metadata": {"namespace": NS, "name": "plausible-secrets", "annotations": {"last": CANARY}},
     "data": dict.fromkeys(("SECRET_KEY_BASE", "TOTP_VAULT_KEY", "DATABASE_URL", "CLICKHOUSE_DATABASE_URL"), ENCODED)},
    {"metadata": {"namespace": NS, "name": "hand-made"}, "data": {"token": ENCODED}, "stringData": {"x": CANARY}},
    {"metadata": {"namespace": NS, "name": "postgres-ameide-auth"}, "data": {"password": ENCODED}},
    {"metadata": {"namespace": NS, "name": "registry"}, "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": ENCODED}},
]  # fmt: skip
LISTED = re.compile(r"/api(?:s/[^/]+)?/v1/namespaces/([^/]+)/([a-z]+)$")


def stand_in(secrets_status: int = 200) -> httpx2.MockTransport:
    def handle(request: httpx2.Request) -> httpx2.Response:
        assert request.method == "GET", "lineage only lists"
        match = LISTED.search(request.url.path)
        assert match, request.url.path
        namespace, plural = match.groups()
        if plural == "secrets":
            if secrets_status != 200:
                return httpx2.Response(
                    secrets_status, json={"kind": "Status", "code": secrets_status, "message": "secrets is forbidden"}
                )
            items = [s for s in SECRETS if s["metadata"]["namespace"] == namespace]
        else:
            items = [w for w in WORKLOADS.get(plural, []) if w["metadata"]["namespace"] == namespace]
        return httpx2.Response(200, json={"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items})

    return httpx2.MockTransport(handle)


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: test, context: {cluster: c, user: u}}]\n"
    )

    def serve(secrets_status: int = 200) -> None:
        transport = stand_in(secrets_status)
        monkeypatch.setattr(
            kubernetes.Cluster, "for_stack", classmethod(lambda cls, settings, context=None: cls("test", config, transport))
        )

    return serve


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = verb.main(["--stack", "staging", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_lineage_when_run_then_every_format_reports_and_no_value_appears(
    fmt: str, cluster: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cluster()
    written = tmp_path / "lineage.json"
    code, out, err = run(capsys, "--format", fmt, "--output", str(written))
    assert code == 1  # GONE is broken
    assert out
    for shown in (out, err, written.read_text()):
        assert CANARY not in shown
        assert ENCODED not in shown


def test_lineage_when_json_then_edges_unused_broken_optional_and_undeclared_exactly(
    cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster()
    code, out, _ = run(capsys, "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert report["secret_keys_read"] is True
    assert [(e["secret"], e["secret_key"], e["vault_key"], e["property"], e["env"]) for e in report["edges"]] == [
        ("plausible-secrets", "SECRET_KEY_BASE", "plausible/secret-key-base", "value", "SECRET_KEY_BASE")
    ]
    assert {(u["secret"], u["secret_key"]) for u in report["unused_keys"]} >= {
        ("plausible-secrets", "TOTP_VAULT_KEY"), ("plausible-secrets", "DATABASE_URL"), ("plausible-secrets", "CLICKHOUSE_DATABASE_URL")
    }  # fmt: skip
    assert [(b["key"], b["consumer"]["field"]) for b in report["broken_refs"]] == [
        ("GONE", "spec.template.spec.containers[0].env[2].valueFrom.secretKeyRef")
    ]
    assert [b["key"] for b in report["optional_broken_refs"]] == ["MAYBE"]
    assert [(u["secret"], u["exists"]) for u in report["undeclared"]] == [("hand-made", True), ("registry", True)]


def test_lineage_when_secrets_forbidden_then_still_reports_with_a_note(cluster: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cluster(secrets_status=403)
    code, out, err = run(capsys, "--format", "json")
    assert code == 1
    assert json.loads(out)["secret_keys_read"] is False
    assert "listing secrets in ameide: secrets is forbidden" in err


def test_lineage_when_workloads_forbidden_then_exit_1_naming_the_list(
    cluster: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster()
    refused = kubernetes.ForbiddenError("test: listing deployments in ameide: forbidden")
    monkeypatch.setattr(kubernetes.Cluster, "workloads", lambda self, namespaces: (_ for _ in ()).throw(refused))
    code, out, err = run(capsys)
    assert (code, out) == (1, "")
    assert err.strip() == "test: listing deployments in ameide: forbidden"


def test_lineage_when_nothing_broken_then_exit_0(
    cluster: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    container = WORKLOADS["deployments"][0]["spec"]["template"]["spec"]["containers"][0]
    monkeypatch.setitem(container, "env", container["env"][:2])
    cluster()
    code, out, _ = run(capsys)
    assert code == 0
    assert "broken references (0):" in out


def test_lineage_when_one_vault_key_asked_then_only_its_edges_and_exit_0(
    cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster()
    code, out, _ = run(capsys, "--vault-key", "plausible/secret-key-base")
    assert code == 0
    assert out.splitlines()[1:] == [
        "edges (1):",
        "  plausible/secret-key-base#value -> ExternalSecret plausible-secrets -> Secret ameide/plausible-secrets[SECRET_KEY_BASE] "
        "-> Deployment ameide/plausible (container app) via env as $SECRET_KEY_BASE",
        "unused keys (0):",
        "broken references (0):",
        "broken optional references (0):",
        "undeclared Secrets (0):",
    ]
