"""A throwaway OpenBao dev server (a Vault-API engine) for the e2e tests; its client is lab/vault.py (hvac)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lab.testenv import engines_dir, free_ports
from lab.vault import VaultClient, VaultError

LOCALHOST = "127.0.0.1"


def bao_binary() -> Path:
    return engines_dir() / "bin" / "bao"


@dataclass
class DevServer:
    """A running `bao server -dev`: in memory, unsealed, listening on 127.0.0.1 only."""

    address: str
    root_token: str = field(repr=False)
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, token: str | None = None) -> VaultClient:
        return VaultClient(self.address, token or self.root_token)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Terminate, then kill if it does not exit in time: a test run leaves no server behind."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _die_with_parent() -> None:
    # Linux only: a pytest killed outright (CI timeout, SIGKILL) cannot run teardown; the kernel stops the server.
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _start(binary: Path, workdir: Path, timeout: float) -> DevServer:
    [port] = free_ports(1)
    address = f"http://{LOCALHOST}:{port}"
    root_token = secrets.token_urlsafe(24)
    log_path = workdir / f"bao-{port}.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # The dev server would store its token in ~/.vault-token; keep everything in the temp dir.
        "HOME": str(workdir),
        # Through the environment, not -dev-root-token-id: an argument is visible to every `ps` on the machine.
        "BAO_DEV_ROOT_TOKEN_ID": root_token,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "server", "-dev", f"-dev-listen-address={LOCALHOST}:{port}", "-dev-no-store-token"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    server = DevServer(address, root_token, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise VaultError(f"bao exited with {process.returncode} before it answered:\n{server.log()}")
        try:
            # 200: initialized, unsealed and active (the health endpoint needs no token).
            if server.client().request("GET", "sys/health")[0] == 200:
                return server
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    server.stop()
    raise VaultError(f"bao did not answer /v1/sys/health within {timeout:.0f}s:\n{server.log()}")


@contextmanager
def dev_server(binary: Path, timeout: float = 30, attempts: int = 3) -> Iterator[DevServer]:
    """A started dev server, stopped on exit; its data and log live in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="openbao-") as tmp:
        server: DevServer | None = None
        for attempt in range(attempts):
            try:
                server = _start(binary, Path(tmp), timeout)
                break
            except VaultError:
                # Another process may take a port between the probe and bao's bind: bao exits, try new ports.
                if attempt == attempts - 1:
                    raise
        assert server is not None
        try:
            yield server
        finally:
            server.stop()
