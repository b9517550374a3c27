"""lineage/consumers.py over hand-written pod specs: every way a container reads a Secret, one case each."""

from __future__ import annotations

from typing import Any

import pytest

from ameide_secrets.lineage.consumers import KINDS, Consumption, consumptions

NS = "ameide"


def deployment(pod: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": NS, "name": "web", **metadata}, "spec": {"template": {"spec": pod}}}


def read(pod: dict[str, Any]) -> list[tuple[str | None, str, str, str | None, bool, str | None, str | None, str]]:
    """(container, via, Secret, key, optional, env, path, field) of each consumption, in order."""
    return [
        (c.consumer.container, c.consumer.via, c.secret, c.key, c.optional, c.env, c.path, c.consumer.field)
        for c in consumptions("Deployment", deployment(pod))
    ]


AT = "spec.template.spec"


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(
            {"containers": [{"name": "app", "env": [
                {"name": "PLAIN", "value": "not-a-secret"},
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            ]}]},
            [("app", "env", "db", "password", False, "DB_PASSWORD", None, f"{AT}.containers[0].env[1].valueFrom.secretKeyRef")],
            id="env secretKeyRef",
        ),
        pytest.param(
            {"containers": [{"name": "app", "env": [
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token", "optional": True}}},
            ]}]},
            [("app", "env", "api", "token", True, "TOKEN", None, f"{AT}.containers[0].env[0].valueFrom.secretKeyRef")],
            id="env optional",
        ),
        pytest.param(
            {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "db"}, "prefix": "DB_"}, {"configMapRef": {"name": "c"}}]}]},
            [("app", "envFrom", "db", None, False, "DB_", None, f"{AT}.containers[0].envFrom[0].secretRef")],
            id="envFrom with prefix",
        ),
        pytest.param(
            {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "db", "optional": True}}]}]},
            [("app", "envFrom", "db", None, True, "", None, f"{AT}.containers[0].envFrom[0].secretRef")],
            id="envFrom optional without prefix",
        ),
        pytest.param(
            {"containers": [{"name": "app", "volumeMounts": [{"name": "creds", "mountPath": "/etc/creds"}]}],
             "volumes": [{"name": "creds", "secret": {"secretName": "db"}}]},
            [("app", "volume", "db", None, False, None, None, f"{AT}.volumes[0].secret")],
            id="whole secret volume",
        ),
        pytest.param(
            {"containers": [{"name": "app", "volumeMounts": [{"name": "creds", "mountPath": "/etc/creds"}]}],
             "volumes": [{"name": "creds", "secret": {"secretName": "db", "optional": True,
                                                      "items": [{"key": "password", "path": "pw"}, {"key": "user", "path": "u"}]}}]},
            [("app", "volume", "db", "password", True, None, "pw", f"{AT}.volumes[0].secret"),
             ("app", "volume", "db", "user", True, None, "u", f"{AT}.volumes[0].secret")],
            id="secret volume items",
        ),
        pytest.param(
            {"containers": [{"name": "app", "volumeMounts": [{"name": "all", "mountPath": "/etc/all"}]}],
             "volumes": [{"name": "all", "projected": {"sources": [
                 {"configMap": {"name": "c"}},
                 {"secret": {"name": "db", "items": [{"key": "password", "path": "db/pw"}]}},
                 {"secret": {"name": "tls"}},
                 {"serviceAccountToken": {"path": "token"}},
             ]}}]},
            [("app", "projected", "db", "password", False, None, "db/pw", f"{AT}.volumes[0].projected.sources[1].secret"),
             ("app", "projected", "tls", None, False, None, None, f"{AT}.volumes[0].projected.sources[2].secret")],
            id="projected sources",
        ),
        pytest.param(
            {"containers": [{"name": "app"}], "imagePullSecrets": [{"name": "registry"}]},
            [(None, "imagePullSecrets", "registry", None, False, None, None, f"{AT}.imagePullSecrets[0]")],
            id="imagePullSecrets",
        ),
        pytest.param(
            {"initContainers": [{"name": "migrate", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}]}],
             "containers": [{"name": "app"}]},
            [("migrate", "env", "db", "p", False, "P", None, f"{AT}.initContainers[0].env[0].valueFrom.secretKeyRef")],
            id="init container",
        ),
        pytest.param(
            {"containers": [{"name": "app"}],
             "ephemeralContainers": [{"name": "debug", "envFrom": [{"secretRef": {"name": "db"}}]}]},
            [("debug", "envFrom", "db", None, False, "", None, f"{AT}.ephemeralContainers[0].envFrom[0].secretRef")],
            id="ephemeral container",
        ),
        pytest.param(
            {"containers": [{"name": "app"}], "volumes": [{"name": "unmounted", "secret": {"secretName": "db"}}]},
            [(None, "volume", "db", None, False, None, None, f"{AT}.volumes[0].secret")],
            id="volume no container mounts",
        ),
        pytest.param(
            {"initContainers": [{"name": "a", "volumeMounts": [{"name": "v", "mountPath": "/a"}]}],
             "containers": [{"name": "b", "volumeMounts": [{"name": "v", "mountPath": "/b"}, {"name": "v", "mountPath": "/c"}]}],
             "volumes": [{"name": "v", "secret": {"secretName": "db"}}]},
            [("a", "volume", "db", None, False, None, None, f"{AT}.volumes[0].secret"),
             ("b", "volume", "db", None, False, None, None, f"{AT}.volumes[0].secret")],
            id="volume mounted by two containers, once each",
        ),
        pytest.param(
            {"containers": [{"name": "app", "env": [{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                                                    {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
             "volumes": [{"name": "e", "emptyDir": {}}, {"name": "c", "configMap": {"name": "c"}}]},
            [],
            id="no secret at all",
        ),
    ],
)  # fmt: skip
def test_consumptions_when_pod_reads_a_secret_then_each_reference_with_container_via_and_field(
    pod: dict[str, Any], expected: list[tuple[Any, ...]]
) -> None:
    assert read(pod) == expected


POD = {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "db"}}]}]}


@pytest.mark.parametrize(
    ("kind", "manifest", "field"),
    [
        ("Deployment", deployment(POD), "spec.template.spec.containers[0].envFrom[0].secretRef"),
        ("StatefulSet", deployment(POD), "spec.template.spec.containers[0].envFrom[0].secretRef"),
        ("DaemonSet", deployment(POD), "spec.template.spec.containers[0].envFrom[0].secretRef"),
        ("ReplicaSet", deployment(POD), "spec.template.spec.containers[0].envFrom[0].secretRef"),
        ("Job", deployment(POD), "spec.template.spec.containers[0].envFrom[0].secretRef"),
        ("CronJob", {"metadata": {"namespace": NS, "name": "web"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": POD}}}}},
         "spec.jobTemplate.spec.template.spec.containers[0].envFrom[0].secretRef"),
        ("Pod", {"metadata": {"namespace": NS, "name": "web"}, "spec": POD}, "spec.containers[0].envFrom[0].secretRef"),
    ],
)  # fmt: skip
def test_consumptions_when_any_workload_kind_then_its_pod_template_is_read(
    kind: str, manifest: dict[str, Any], field: str
) -> None:
    [found] = consumptions(kind, manifest)
    assert (found.consumer.kind, found.consumer.namespace, found.consumer.name, found.consumer.field) == (kind, NS, "web", field)
    assert set(KINDS) == {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


@pytest.mark.parametrize(
    ("kind", "owner", "read_here"),
    [
        ("ReplicaSet", "Deployment", False),
        ("Pod", "ReplicaSet", False),
        ("Pod", "StatefulSet", False),
        ("Pod", "DaemonSet", False),
        ("Pod", "Job", False),
        ("Job", "CronJob", False),
        # An operator's pods (CNPG's Cluster): nothing else here reads their template.
        ("Pod", "Cluster", True),
        ("ReplicaSet", None, True),
    ],
)
def test_consumptions_when_controlled_by_a_read_workload_then_skipped_else_read(
    kind: str, owner: str | None, read_here: bool
) -> None:
    owners = [{"kind": owner, "name": "x", "controller": True, "apiVersion": "v1", "uid": "u"}] if owner else []
    manifest = (
        {"metadata": {"namespace": NS, "name": "web", "ownerReferences": owners}, "spec": POD}
        if kind == "Pod"
        else deployment(POD, ownerReferences=owners)
    )
    assert bool(consumptions(kind, manifest)) is read_here


def test_consumptions_when_unknown_kind_or_no_template_then_none() -> None:
    assert consumptions("ConfigMap", deployment(POD)) == []
    assert consumptions("Deployment", {"metadata": {"namespace": NS, "name": "web"}, "spec": {}}) == []


def test_consumption_when_extra_field_then_refused() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        Consumption.model_validate({"consumer": {}, "secret": "s", "key": None, "value": "x"})
