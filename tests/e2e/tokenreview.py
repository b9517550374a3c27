"""A stand-in for the one Kubernetes API a Vault kubernetes-auth login calls: TokenReview.

Until the real-cluster scenario runs a kube-apiserver here, Vault's kubernetes auth needs an API
server to review the service-account tokens ESO presents. This serves only
`POST /apis/authentication.k8s.io/v1/tokenreviews`, over TLS on loopback, for tokens it minted
itself (`mint`): the login path through Vault — role binding, audience, alias, entity, policies —
is OpenBao's own. The token's signature is not checked by Vault without `pem_keys`; the review is
what authenticates it, as in a real cluster.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class TokenReviewer:
    """The stand-in's address, its CA (for Vault's `kubernetes_ca_cert`) and the tokens it vouches for."""

    url: str
    ca_pem: str
    identities: dict[str, tuple[str, str, str, list[str]]] = field(default_factory=dict)
    """token -> (namespace, service account, uid, audiences)."""

    def mint(self, namespace: str, service_account: str, audiences: list[str]) -> str:
        """A service-account token of `namespace`/`service_account`, as a TokenRequest would return it."""
        uid = secrets.token_hex(16)
        claims = {
            "iss": "https://kubernetes.default.svc",
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
            "aud": audiences,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account, "uid": uid}},
        }
        token = ".".join(
            _b64(part)
            for part in (
                json.dumps({"alg": "RS256", "kid": "e2e"}).encode(),
                json.dumps(claims).encode(),
                secrets.token_bytes(256),
            )
        )
        self.identities[token] = (namespace, service_account, uid, audiences)
        return token

    def review(self, request: dict[str, Any]) -> dict[str, Any]:
        token = request.get("spec", {}).get("token", "")
        wanted = request.get("spec", {}).get("audiences") or []
        status: dict[str, Any] = {"authenticated": False}
        if token in self.identities:
            namespace, account, uid, audiences = self.identities[token]
            # The API server refuses a token that carries none of the audiences asked for.
            if not wanted or set(wanted) & set(audiences):
                status = {
                    "authenticated": True,
                    "user": {
                        "username": f"system:serviceaccount:{namespace}:{account}",
                        "uid": uid,
                        "groups": ["system:serviceaccounts"],
                    },
                    "audiences": [a for a in audiences if not wanted or a in wanted],
                }
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@contextmanager
def token_reviewer(directory: Path) -> Iterator[TokenReviewer]:
    """Serve TokenReview on 127.0.0.1 over TLS with a throwaway CA until the block ends."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    reviewer = TokenReviewer(url="", ca_pem=cert.read_text())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
                self.send_error(404)
                return
            answer = json.dumps(reviewer.review(body)).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:  # tokens must not reach any log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    reviewer.url = f"https://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield reviewer
    finally:
        server.shutdown()
        server.server_close()
