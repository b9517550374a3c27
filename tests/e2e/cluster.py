"""The scenario's view of a running `lab.testenv`: kubectl as one of its users, Vault as root, Helm, Pulumi.

Everything asserted comes from here: objects as the API server returns them, Secret data as stored,
Vault values as Vault returns them. Decoded Secret values stay inside the test process.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lab import testenv
from lab.vault import VaultClient

from .engine import Pulumi

T = TypeVar("T")


@dataclass(frozen=True)
class Kube:
    """kubectl against one cluster of the environment in `directory`, as `user` (admin | developer | platform)."""

    directory: Path
    cluster: str
    user: str = "admin"

    @property
    def context(self) -> str:
        return f"ameide-{self.cluster}" + ("" if self.user == "platform" else f"-{self.user}")

    def ctl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = testenv.kubectl(self.directory, self.context, *args, stdin=stdin, check=False)
        if check and completed.returncode != 0:
            raise AssertionError(f"kubectl --context {self.context} {' '.join(args)}: {completed.stderr}")
        return completed

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        where = ["-n", namespace] if namespace else []
        completed = self.ctl("get", kind, name, *where, "-o", "json", "--show-managed-fields", check=False)
        if completed.returncode != 0:
            if "NotFound" in completed.stderr:
                return None
            raise AssertionError(completed.stderr)
        found: dict[str, Any] = json.loads(completed.stdout)
        return found

    def items(self, kind: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = json.loads(self.ctl("get", kind, "-A", "-o", "json").stdout)["items"]
        return listed

    def secret_data(self, namespace: str, name: str) -> dict[str, bytes]:
        secret = self.get("secret", namespace, name)
        assert secret is not None, f"Secret {namespace}/{name} does not exist in {self.cluster}"
        return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


def synced_object(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    """The ExternalSecret once ESO has synced it, else None (a probe for `eventually`)."""
    found = kube.get("externalsecret", namespace, name)
    return found if found is not None and synced(found) else None


def synced(external_secret: dict[str, Any]) -> bool:
    """Ready=True with reason SecretSynced, as ESO records it."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" and c.get("reason") == "SecretSynced"
        for c in (external_secret.get("status") or {}).get("conditions", [])
    )


def ready_condition(external_secret: dict[str, Any]) -> dict[str, Any]:
    conditions = (external_secret.get("status") or {}).get("conditions", [])
    return next((c for c in conditions if c.get("type") == "Ready"), {})


def eventually(what: str, probe: Callable[[], T | None], timeout: float = 60, interval: float = 0.5) -> T:
    """`probe()` once it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


def vault_values(vault: VaultClient, mount: str, key: str) -> dict[str, str]:
    status, answer = vault.request("GET", f"{mount}/data/{key}")
    assert status == 200, f"Vault {mount}/data/{key}: HTTP {status}"
    data: dict[str, str] = answer["data"]["data"]
    return data


def _as_stored(value: str, ref: dict[str, Any]) -> bytes:
    # decodingStrategy Base64: ESO stores the decoded bytes.
    return base64.b64decode(value) if ref.get("decodingStrategy") == "Base64" else value.encode()


def secret_mismatches(vault: VaultClient, mount: str, external_secret: dict[str, Any], actual: dict[str, bytes]) -> list[str]:
    """The Secret keys whose data is not what Vault holds for this live ExternalSecret (names only, never values).

    A `data` ref without property reads the whole Vault secret, which ESO writes as JSON.
    """
    expected: dict[str, bytes | dict[str, str]] = {}
    for item in external_secret["spec"].get("dataFrom", []):
        ref = item["extract"]
        expected |= {name: _as_stored(value, ref) for name, value in vault_values(vault, mount, ref["key"]).items()}
    for item in external_secret["spec"].get("data", []):
        ref = item["remoteRef"]
        values = vault_values(vault, mount, ref["key"])
        expected[item["secretKey"]] = _as_stored(values[ref["property"]], ref) if "property" in ref else values
    wrong = []
    for key, value in expected.items():
        got: Any = actual.get(key)
        if isinstance(value, dict) and got is not None:
            got = json.loads(got)
        if got != value:
            wrong.append(key)
    return wrong


@dataclass
class Environment:
    """A running testenv, the project copy it serves, and the tools to act on it."""

    directory: Path
    project: Path
    state: testenv.State

    def kube(self, cluster: str, user: str = "admin") -> Kube:
        return Kube(self.directory, cluster, user)

    def vault(self, cluster: str) -> VaultClient:
        return testenv.vault_client(self.directory, self.state, cluster)

    def pulumi(self) -> Pulumi:
        return Pulumi(self.project, testenv.pulumi_env(self.directory, self.state))

    def stack(self, command: str, stack: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`pulumi <command> -s <stack>` with the environment's stack config."""
        config = str(self.directory / f"Pulumi.{stack}.yaml")
        return self.pulumi().run(command, "-s", stack, "--config-file", config, *args, check=check)

    def helm(self, cluster: str, *args: str) -> subprocess.CompletedProcess[str]:
        completed = testenv.helm(self.directory, cluster, *args)
        assert completed.returncode == 0, f"helm {' '.join(args)}: {completed.stderr}"
        return completed
