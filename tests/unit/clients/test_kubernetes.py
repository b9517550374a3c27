"""clients/kubernetes.py on lightkube, against an API server stand-in: lists objects, keeps Secret key names only."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
import pytest

from ameide_secrets.clients.kubernetes import WORKLOADS, Cluster, ClusterUnreachableError, ForbiddenError

CANARY = "canary-5f0c1e-never-in-a-report"


def kubeconfig(tmp_path: Any) -> Any:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: test, context: {cluster: c, user: u}}]\n"
    )
    return path


def served(routes: dict[str, dict[str, Any]], status: int = 200) -> httpx2.MockTransport:
    def handle(request: httpx2.Request) -> httpx2.Response:
        body = routes.get(request.url.path)
        if body is None or status != 200:
            return httpx2.Response(status if body else 404, json={"kind": "Status", "code": status, "message": "forbidden: no"})
        return httpx2.Response(200, json=body)

    return httpx2.MockTransport(handle)


def cluster_on(tmp_path: Any, transport: httpx2.MockTransport) -> Cluster:
    return Cluster("test", kubeconfig(tmp_path), transport=transport)


SECRETS = {
    "apiVersion": "v1",
    "kind": "SecretList",
    "metadata": {},
    "items": [
        {
            "metadata": {"namespace": "ameide", "name": "keycloak-db"},
            "data": {"KC_DB_PASSWORD": base64.b64encode(CANARY.encode()).decode(), "KC_DB_USERNAME": "a2M="},
        },
        {"metadata": {"namespace": "ameide", "name": "empty"}},
    ],
}


def test_secret_keys_when_listed_then_names_only_and_no_value_anywhere(tmp_path) -> None:
    cluster = cluster_on(tmp_path, served({"/api/v1/secrets": SECRETS}))
    keys = cluster.secret_keys()
    assert keys == {("ameide", "keycloak-db"): frozenset({"KC_DB_PASSWORD", "KC_DB_USERNAME"}), ("ameide", "empty"): frozenset()}
    encoded = base64.b64encode(CANARY.encode()).decode()
    assert encoded not in repr(keys)
    assert CANARY not in repr(keys)


def test_external_secrets_when_listed_then_plain_manifests_by_namespace_and_name(tmp_path) -> None:
    listing = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecretList",
        "metadata": {},
        "items": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                   "metadata": {"namespace": "ameide", "name": "www"}, "spec": {"refreshInterval": "1h"}}],
    }  # fmt: skip
    cluster = cluster_on(tmp_path, served({"/apis/external-secrets.io/v1/externalsecrets": listing}))
    found = cluster.external_secrets()
    assert list(found) == [("ameide", "www")]
    assert json.loads(json.dumps(found[("ameide", "www")]))["spec"] == {"refreshInterval": "1h"}


def test_list_when_refused_then_cluster_unreachable_naming_context_and_reason(tmp_path) -> None:
    cluster = cluster_on(tmp_path, served({"/api/v1/secrets": SECRETS}, status=403))
    with pytest.raises(ClusterUnreachableError, match="test: listing secrets: forbidden: no"):
        cluster.secret_keys()


def test_cluster_when_context_missing_then_says_which_kubeconfig_and_context(tmp_path) -> None:
    with pytest.raises(ClusterUnreachableError, match=r"kubeconfig .*kubeconfig: context 'nowhere'"):
        Cluster("nowhere", kubeconfig(tmp_path))


def test_list_when_refused_with_403_then_forbidden_naming_the_namespace(tmp_path) -> None:
    cluster = cluster_on(tmp_path, served({"/api/v1/namespaces/ameide/secrets": SECRETS}, status=403))
    with pytest.raises(ForbiddenError, match="test: listing secrets in ameide: forbidden: no"):
        cluster.secret_keys(["ameide"])


def test_workloads_when_listed_then_each_kind_in_each_namespace_only_with_get(tmp_path) -> None:
    asked: list[tuple[str, str]] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        asked.append((request.method, request.url.path))
        kind = request.url.path.rsplit("/", 1)[-1]
        deployment = {"metadata": {"namespace": "ameide", "name": f"one-{kind}"},
                      "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "app"}]}}}}  # fmt: skip
        items = [deployment] if request.url.path == "/apis/apps/v1/namespaces/ameide/deployments" else []
        return httpx2.Response(200, json={"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items})

    found = cluster_on(tmp_path, httpx2.MockTransport(handle)).workloads(["ameide", "monitoring"])
    assert [(kind, manifest["metadata"]["name"]) for kind, manifest in found] == [("Deployment", "one-deployments")]
    assert {method for method, _ in asked} == {"GET"}
    assert sorted(path for _, path in asked) == sorted(
        f"/{'api' if kind == 'Pod' else 'apis/' + ('apps' if kind not in ('Job', 'CronJob') else 'batch')}/v1/namespaces/{ns}/{kind.lower()}s"
        for ns in ("ameide", "monitoring")
        for kind in WORKLOADS
    )


def event(name: str, when: str, message: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ameide", "name": f"{name}.{when}"},
        "involvedObject": {"kind": "ExternalSecret", "namespace": "ameide", "name": name},
        "type": "Warning", "reason": "UpdateFailed", "lastTimestamp": when, "message": message,
    }  # fmt: skip


def test_sync_errors_when_events_listed_then_newest_message_per_external_secret_on_one_line(tmp_path) -> None:
    events = {"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": [
        event("www", "2026-12-04T01:00:02Z", "err: cannot read secret data from Vault:\n\nCode: 503. Errors:\n\n* Vault is sealed"),
        event("www", "2026-12-04T01:00:01Z", "an older error"),
        event("graph", "2026-12-04T01:00:00Z", "err: invalid role name"),
    ]}  # fmt: skip
    cluster = cluster_on(tmp_path, served({"/api/v1/events": events}))
    assert cluster.sync_errors() == {
        ("ameide", "www"): "err: cannot read secret data from Vault: Code: 503. Errors: * Vault is sealed",
        ("ameide", "graph"): "err: invalid role name",
    }


def test_sync_errors_when_events_may_not_be_listed_then_none(tmp_path) -> None:
    assert cluster_on(tmp_path, served({"/api/v1/events": {}}, status=403)).sync_errors() == {}
