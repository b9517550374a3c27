"""clients/vault.py on hvac, against a loopback HTTPS stand-in for Vault's KV API: field names and version times
only, and the standard TLS variables (VAULT_CACERT, VAULT_SKIP_VERIFY) honoured as the `vault` CLI honours them."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ameide_secrets.clients.vault import Vault, VaultUnreachableError, Written
from ameide_secrets.findings import InputError

CANARY = "canary-7d41-never-printed"
# KV v2 metadata as Vault answers it: version 3 current, 2 deleted, 1 destroyed; custom metadata may hold what
# a `metadata_policy="Fetch"` ref reads, so a canary too.
METADATA = {
    "current_version": 3,
    "updated_time": "2025-03-01T00:00:00.123456789Z",
    "custom_metadata": {"owner": CANARY},
    "versions": {
        "1": {"created_time": "2025-01-01T00:00:00Z", "deletion_time": "", "destroyed": True},
        "2": {"created_time": "2025-01-15T00:00:00Z", "deletion_time": "2025-01-20T00:00:00Z", "destroyed": False},
        "3": {"created_time": "2025-02-01T12:30:00.999999999Z", "deletion_time": "2099-01-01T00:00:00Z", "destroyed": False},
    },
}


class KvHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body: dict[str, Any]
        if self.path.startswith("/v1/secret/data/app/db"):
            status, body = 200, {"data": {"data": {"password": CANARY, "username": "app"}, "metadata": {"version": 1}}}
        elif self.path == "/v1/secret/metadata/app/db":
            status, body = 200, {"data": METADATA}
        elif self.path == "/v1/auth/kubernetes/role/eso":
            status, body = 200, {"data": {"bound_service_account_names": ["ameide-vault-auth"], "token_ttl": 600}}
        elif self.path.startswith(("/v1/secret/data/other/", "/v1/secret/metadata/other/", "/v1/sys/policies/acl/")):
            status, body = 403, {"errors": ["permission denied"]}
        else:
            status, body = 404, {"errors": []}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(address, CA file) of a TLS server on 127.0.0.1 with a certificate of its own CA."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KvHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}", folder / "cert.pem"
    finally:
        server.shutdown()
        server.server_close()


def environment(address: str, **extra: str) -> dict[str, str]:
    return {"VAULT_ADDR": address, "VAULT_TOKEN": "t", **extra}


def test_fields_when_vault_cacert_names_the_ca_then_names_only(https_vault: tuple[str, Path]) -> None:
    address, ca = https_vault
    vault = Vault.from_environment("secret", "v2", environment(address, VAULT_CACERT=str(ca)))
    answer = vault.fields("app/db")
    assert (answer.status, answer.fields) == (200, frozenset({"password", "username"}))
    assert CANARY not in repr(answer)


@pytest.mark.parametrize(("key", "status"), [("other/db", 403), ("app/missing", 404)])
def test_fields_when_refused_or_missing_then_the_status(https_vault: tuple[str, Path], key: str, status: int) -> None:
    address, ca = https_vault
    assert Vault.from_environment("secret", "v2", environment(address, VAULT_CACERT=str(ca))).fields(key).status == status


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("auth/kubernetes/role/eso", (200, {"bound_service_account_names": ["ameide-vault-auth"], "token_ttl": 600})),
        ("auth/kubernetes/role/gone", (404, {})),
        ("sys/policies/acl/ameide-vault-read-ameide", (403, {})),
    ],
)
def test_configuration_when_read_then_the_status_and_data(
    https_vault: tuple[str, Path], path: str, answer: tuple[int, dict[str, Any]]
) -> None:
    address, ca = https_vault
    assert Vault.from_environment("secret", "v2", environment(address, VAULT_CACERT=str(ca))).configuration(path) == answer


def test_fields_when_ca_unknown_then_unreachable_naming_address_and_tls(https_vault: tuple[str, Path]) -> None:
    address, _ = https_vault
    with pytest.raises(VaultUnreachableError, match=rf"cannot reach Vault at {address}: SSLError: .*CERTIFICATE_VERIFY_FAILED"):
        Vault.from_environment("secret", "v2", environment(address)).fields("app/db")


# urllib3 warns of the unverified request, as a user of VAULT_SKIP_VERIFY should be warned: expected here.
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_fields_when_vault_skip_verify_then_reads_without_the_ca(https_vault: tuple[str, Path]) -> None:
    address, _ = https_vault
    assert Vault.from_environment("secret", "v2", environment(address, VAULT_SKIP_VERIFY="true")).fields("app/db").status == 200


def test_from_environment_when_address_or_token_missing_then_says_which_variables() -> None:
    with pytest.raises(VaultUnreachableError, match="set VAULT_ADDR and VAULT_TOKEN"):
        Vault.from_environment("secret", "v2", {"VAULT_ADDR": "https://vault:8200"})


@pytest.mark.parametrize(
    ("version", "metadata", "written"),
    [
        # The current version; its deletion_time is in the future (delete_version_after): still readable.
        pytest.param(None, False, Written(200, "3", datetime(2025, 2, 1, 12, 30, 0, 999999, UTC)), id="current"),
        pytest.param("2", False, Written(200, "2", datetime(2025, 1, 15, tzinfo=UTC), readable=False), id="deleted"),
        pytest.param("1", False, Written(200, "1", datetime(2025, 1, 1, tzinfo=UTC), readable=False), id="destroyed"),
        pytest.param("7", False, Written(404, "7"), id="no-such-version"),
        # A Fetch ref reads custom metadata: its time is when the metadata was last written.
        pytest.param(None, True, Written(200, None, datetime(2025, 3, 1, 0, 0, 0, 123456, UTC)), id="custom-metadata"),
    ],
)
def test_written_when_metadata_read_then_version_and_time_only(
    https_vault: tuple[str, Path], version: str | None, metadata: bool, written: Written
) -> None:
    address, ca = https_vault
    vault = Vault.from_environment("secret", "v2", environment(address, VAULT_CACERT=str(ca)))
    answer = vault.written("app/db", version, metadata, now=datetime(2025, 6, 1, tzinfo=UTC))
    assert answer == written
    assert CANARY not in repr(answer)


@pytest.mark.parametrize(("key", "status"), [("other/db", 403), ("app/missing", 404)])
def test_written_when_refused_or_missing_then_the_status(https_vault: tuple[str, Path], key: str, status: int) -> None:
    address, ca = https_vault
    assert Vault.from_environment("secret", "v2", environment(address, VAULT_CACERT=str(ca))).written(key).status == status


def test_written_when_kv1_mount_then_says_ages_need_kv2() -> None:
    with pytest.raises(InputError, match="the KV v1 mount 'kv' keeps no versions or times: ages need a KV v2 mount"):
        Vault("https://vault:8200", "t", "kv", "v1").written("app/db")
