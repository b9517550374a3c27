"""checks/precheck.py: what an admission would refuse, found among objects that predate it (the real
cluster runs it in tests/e2e/test_cluster_scenario.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ameide_secrets.checks.precheck import refusals
from ameide_secrets.project import Project

PLATFORM = {"kind": "ClusterSecretStore", "name": "ameide-vault"}


def live(namespace: str, name: str, *, store: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body = {"secretStoreRef": store or PLATFORM, "target": {"name": name}, **spec}
    return {"metadata": {"namespace": namespace, "name": name}, "spec": body}


def data(*keys: str) -> list[dict[str, Any]]:
    return [{"secretKey": f"k{i}", "remoteRef": {"key": key}} for i, key in enumerate(keys)]


@pytest.fixture(scope="module")
def verdicts() -> Any:
    stack = Project().stack("staging")

    def judge(*objects: dict[str, Any]) -> list[str]:
        return [str(r) for r in refusals(stack, list(objects))]

    return judge


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (live("ameide", "old", data=data("keycloak/admin", "alertmanager/oauth2-proxy")),
         "ExternalSecret ameide/old: spec.data[1].remoteRef.key: 'alertmanager/oauth2-proxy' is outside the key prefixes of namespace ameide"),
        # Under an admitted prefix by `startsWith`, but Vault normalises them to another path: only the path rule refuses.
        (live("ameide", "dots", data=data("keycloak/../alertmanager/oauth2-proxy")),
         "ExternalSecret ameide/dots: spec.data[0].remoteRef.key: 'keycloak/../alertmanager/oauth2-proxy' has an empty, '.' or '..' segment"),
        (live("ameide", "dot", data=data("keycloak/./admin")),
         "ExternalSecret ameide/dot: spec.data[0].remoteRef.key: 'keycloak/./admin' has an empty, '.' or '..' segment"),
        (live("ameide", "mount", data=data("keycloak/x"), dataFrom=[{"extract": {"key": "secret/keycloak/admin"}}]),
         "ExternalSecret ameide/mount: spec.dataFrom[0].extract.key: 'secret/keycloak/admin' starts with 'secret/'"),
        (live("ameide", "search", dataFrom=[{"find": {"name": {"regexp": ".*"}}}]),
         "ExternalSecret ameide/search: spec.dataFrom[0].find.path: find searches Vault beyond the declared keys"),
        # The platform store named only in an entry's sourceRef.
        (live("monitoring", "via-source", store={"kind": "SecretStore", "name": "own"},
              data=[{"secretKey": "k", "remoteRef": {"key": "keycloak/admin"}, "sourceRef": {"storeRef": PLATFORM}}]),
         "ExternalSecret monitoring/via-source: spec.data[0].remoteRef.key: 'keycloak/admin' is outside the key prefixes of namespace monitoring"),
    ],
)  # fmt: skip
def test_precheck_when_unjudged_object_reads_outside_namespace_then_refused(
    verdicts: Any, obj: dict[str, Any], problem: str
) -> None:
    [found] = verdicts(obj)
    assert found.startswith(problem)
    assert found.endswith(f"(delete or fix it before {obj['metadata']['namespace']} is admitted)")


@pytest.mark.parametrize(
    "obj",
    [
        live("ameide", "fine", data=data("keycloak/admin")),
        # Declared by the stack's modules: `pulumi up` rewrites it.
        live("ameide", "keycloak-db", data=data("anything/at-all")),
        # Not a namespace this stack admits, or not the platform store: the admission never serves them.
        live("growth", "elsewhere", data=data("keycloak/admin")),
        live("ameide", "own-store", store={"kind": "SecretStore", "name": "own"}, data=data("anything/x")),
        # No kind: ESO reads a SecretStore of that name, not the platform's ClusterSecretStore.
        live("ameide", "kindless", store={"name": "ameide-vault"}, data=data("anything/x")),
    ],
)
def test_precheck_when_object_compliant_declared_or_not_served_then_not_refused(verdicts: Any, obj: dict[str, Any]) -> None:
    assert verdicts(obj) == []
