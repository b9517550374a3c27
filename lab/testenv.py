"""The whole system on this machine: two Kubernetes clusters with ESO, and a Vault (OpenBao) for each.

    python -m lab.testenv up --dir D       # start everything, print `export` lines (also in D/env.sh)
    python -m lab.testenv env --dir D [--stack production]   # print them again (Vault of that stack)
    python -m lab.testenv vault --dir D --stack S   # re-apply S's Vault side (and seed new keys) after its workloads changed
    python -m lab.testenv legacy --dir D --stack S [--objects NAME…]  # the legacy chart and its Vault role (before any pulumi up)
    python -m lab.testenv down --dir D     # stop every process `up` started

Per cluster (`staging`, `production`), on loopback ports only: etcd, kube-apiserver (RBAC, service
account tokens, ValidatingAdmissionPolicy), kube-controller-manager (garbage collector, namespaces),
ESO's CRDs and its controller as a process, and an OpenBao dev server (TLS) whose kubernetes auth
reviews tokens against that cluster's API server. The binaries are those of `make engines`. There is
no kubelet: pods never run, so nothing here may wait for one.

Users, by client certificate: `kubernetes-admin` (system:masters), the stack's `platformIdentity`
(cluster-admin: `pulumi up` runs as it), and `ameide-developer` (`edit` in the `ameide` namespace).
Contexts: `ameide-<cluster>` (platformIdentity, the committed `kubeContext`), `ameide-<cluster>-admin`,
`ameide-<cluster>-developer`.

`D/Pulumi.<stack>.yaml` is the stack's committed config plus what this environment needs (Vault address,
the API server Vault reviews against, a short refresh interval; `vaultManage` off because the Pulumi
Vault provider cannot be built here, so this tool applies the same Vault side over HTTP). Use it with
`pulumi … --config-file "$AMEIDE_TESTENV/Pulumi.<stack>.yaml"`. The repository's files are never written.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ameide_secrets import vocabulary
from ameide_secrets.declare import inventory
from ameide_secrets.declare.settings import PROJECT, StackSettings
from ameide_secrets.findings import InputError
from ameide_secrets.project import REPOSITORY, Project, Stack
from lab import vault

CLUSTERS = ("staging", "production")
LOCALHOST = "127.0.0.1"
# The API server's --service-account-issuer, hence its default --api-audiences (Pulumi.yaml kubernetesAudience).
ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN = "kubernetes-admin"
DEVELOPER = "ameide-developer"
DEVELOPER_NAMESPACE = "ameide"
CI_NAMESPACE = "ameide-ci"
# ESO's own CRD-and-RBAC bundle would aggregate its kinds into `edit`; there is no chart here, so this does.
ESO_EDIT_ROLE = "ameide-testenv-external-secrets-edit"
REFRESH_INTERVAL = "5s"
READINESS_TIMEOUT_SECONDS = 120
START_TIMEOUT = 90.0


class TestEnvError(Exception):
    """Something in the environment did not start or answer; the message names the process and its log."""


def engines_dir() -> Path:
    """Where `make engines` builds: `$AMEIDE_ENGINES`, by default `.engines/` in the checkout."""
    return Path(os.environ.get("AMEIDE_ENGINES") or REPOSITORY / ".engines")


def engines_bin() -> Path:
    return engines_dir() / "bin"


# The working tree's files as git sees them (tracked or new, not ignored): what a clone would hold.
_LIST = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"]


# The virtualenvs a real `pulumi` run needs: the program's and the policy pack's.
VENVS = (".venv", "policy/venv")


def project_copy(target: Path, venvs: tuple[str, ...] = VENVS) -> Path:
    """The repository's working tree at `target`, sharing the checkout's virtualenvs `venvs` (read only):
    a project that `pulumi` may change (modules, stack files, salts) without touching the checkout."""
    listed = subprocess.run(_LIST, cwd=REPOSITORY, capture_output=True, check=True).stdout.decode().split("\0")
    for relative in filter(None, listed):
        source = REPOSITORY / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    for venv in venvs:
        if not (REPOSITORY / venv).is_dir():
            raise TestEnvError(f"{venv} is missing: run `make venvs` (make e2e does)")
        (target / venv).symlink_to(REPOSITORY / venv)
    return target


def eso_crds() -> Path:
    """The CRDs of the ESO version `make engines` built, from its module: the controller needs its own
    versions (v2.9.0's CRDs, which the offline checks use, lack the v1alpha1 kinds v0.16.2 watches)."""
    return engines_dir() / "crds" / "external-secrets"


@dataclass
class ClusterPorts:
    etcd: int
    etcd_peer: int
    api: int
    eso_metrics: int
    vault: int


@dataclass
class State:
    """What `up` started, in `D/state.json`: `down` and `env` read it."""

    clusters: dict[str, ClusterPorts]
    pids: dict[str, int]
    passphrase: str
    vault_tokens: dict[str, str]

    @classmethod
    def load(cls, directory: Path) -> State:
        path = directory / "state.json"
        if not path.is_file():
            raise TestEnvError(f"{path}: no environment here (run `python -m lab.testenv up --dir {directory}`)")
        raw = json.loads(path.read_text())
        return cls(
            {k: ClusterPorts(**v) for k, v in raw["clusters"].items()}, raw["pids"], raw["passphrase"], raw["vault_tokens"]
        )

    def save(self, directory: Path) -> None:
        path = directory / "state.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)  # holds the Vault root tokens of this throwaway environment


# ---- certificates ----------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    completed = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if completed.returncode != 0:
        raise TestEnvError(f"openssl {' '.join(args)}: {completed.stderr.strip()}")


def _certificate(pki: Path, name: str, subject: str, extensions: str) -> None:
    """`name.crt`/`name.key` signed by the environment's CA."""
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=pki)
    (pki / f"{name}.ext").write_text(extensions)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "7", "-out", f"{name}.crt", "-extfile", f"{name}.ext", cwd=pki,
    )  # fmt: skip


def _users(platform_identity: str) -> dict[str, str]:
    """Client-certificate users: file stem -> subject."""
    return {
        "admin": f"/O=system:masters/CN={ADMIN}",
        "platform": f"/CN={platform_identity}",
        "developer": f"/CN={DEVELOPER}",
    }


def make_pki(pki: Path, platform_identity: str) -> None:
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
             "-subj", "/CN=ameide-testenv-ca", cwd=pki)  # fmt: skip
    _certificate(
        pki, "apiserver", "/CN=kube-apiserver",
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
    )  # fmt: skip
    for stem, subject in _users(platform_identity).items():
        _certificate(pki, stem, subject, "extendedKeyUsage=clientAuth\n")
    for cluster in CLUSTERS:
        # One signing key per cluster: a staging token is worthless in production.
        _openssl("genrsa", "-out", f"sa-{cluster}.key", "2048", cwd=pki)
        _openssl("rsa", "-in", f"sa-{cluster}.key", "-pubout", "-out", f"sa-{cluster}.pub", cwd=pki)


# ---- processes -------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports, each with its successor free too (OpenBao's dev server binds P+1)."""
    ports: list[int] = []
    # Another process may take one before it is bound: the e2e dev server retries; `up` fails naming the process.
    while len(ports) < count:
        with socket.socket() as first:
            first.bind((LOCALHOST, 0))
            port: int = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind((LOCALHOST, port + 1))
                except OSError:
                    continue
        if port not in ports and port + 1 not in ports and port - 1 not in ports:
            ports.append(port)
    return ports


def _spawn(directory: Path, state: State, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    """Start `argv` detached (it outlives `up`), logging to D/logs/<name>.log; its pid goes to the state at once."""
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(directory), **(env or {})},
            start_new_session=True,
        )
    state.pids[name] = process.pid
    state.save(directory)


def log_tail(directory: Path, name: str, lines: int = 30) -> str:
    path = directory / "logs" / f"{name}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else "(no log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of ours (started by this very process, e.g. in tests) is dead too.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def _ours(pid: int, directory: Path) -> bool:
    """The pid still runs a process `up` started (same working directory): never kill a reused pid."""
    try:
        return Path(f"/proc/{pid}/cwd").resolve() == directory.resolve()
    except OSError:
        return False


def _wait(what: str, check: Any, directory: Path, name: str, state: State, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(state.pids[name]):
            raise TestEnvError(
                f"{name} exited before {what}; its log ({directory / 'logs' / name}.log):\n{log_tail(directory, name)}"
            )
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TestEnvError(f"{name}: no {what} within {timeout:.0f}s; its log:\n{log_tail(directory, name)}")


# ---- kubernetes ------------------------------------------------------------------------------------


def kubeconfig(directory: Path) -> Path:
    return directory / "kubeconfig"


def kubectl(
    directory: Path, context: str, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(engines_bin() / "kubectl"), "--kubeconfig", str(kubeconfig(directory)), "--context", context, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and completed.returncode != 0:
        raise TestEnvError(f"kubectl --context {context} {' '.join(args)}: {completed.stderr.strip()}")
    return completed


def apply(directory: Path, context: str, objects: list[dict[str, Any]]) -> None:
    kubectl(directory, context, "apply", "--server-side", "--field-manager=ameide-testenv", "-f", "-",
            stdin=yaml.safe_dump_all(objects))  # fmt: skip


def _write_kubeconfig(directory: Path, state: State) -> None:
    pki = directory / "pki"
    users = {
        stem: {"client-certificate": str(pki / f"{stem}.crt"), "client-key": str(pki / f"{stem}.key")} for stem in _users("-")
    }
    clusters, contexts = [], []
    for cluster, ports in state.clusters.items():
        clusters.append(
            {
                "name": f"ameide-{cluster}",
                "cluster": {"server": f"https://{LOCALHOST}:{ports.api}", "certificate-authority": str(pki / "ca.crt")},
            }
        )
        for suffix, user in (("", "platform"), ("-admin", "admin"), ("-developer", "developer")):
            contexts.append({"name": f"ameide-{cluster}{suffix}", "context": {"cluster": f"ameide-{cluster}", "user": user}})
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": contexts,
        "current-context": f"ameide-{CLUSTERS[0]}",
    }
    kubeconfig(directory).write_text(yaml.safe_dump(config))
    kubeconfig(directory).chmod(0o600)


def _listening(port: int) -> bool:
    with socket.create_connection((LOCALHOST, port), 1):
        return True


def _api_ready(directory: Path, port: int) -> bool:
    pki = directory / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    with urllib.request.urlopen(f"https://{LOCALHOST}:{port}/readyz", context=context, timeout=5) as response:
        return bool(response.status == 200)


def _apiserver_argv(directory: Path, state: State, cluster: str) -> list[str]:
    ports, pki, bin_dir, data = state.clusters[cluster], directory / "pki", engines_bin(), directory / cluster
    return [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://{LOCALHOST}:{ports.etcd}",
        f"--bind-address={LOCALHOST}", f"--advertise-address={LOCALHOST}", f"--secure-port={ports.api}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-account-key-file={pki / f'sa-{cluster}.pub'}",
        f"--service-account-signing-key-file={pki / f'sa-{cluster}.key'}",
        f"--service-account-issuer={ISSUER}",
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.96.0.0/16",
        f"--cert-dir={data / 'certs'}",
        # No kubelet, no node: the kubernetes Service's endpoints would point at loopback.
        "--endpoint-reconciler-type=none",
    ]  # fmt: skip


def _start_cluster(directory: Path, state: State, cluster: str) -> None:
    ports, pki, bin_dir = state.clusters[cluster], directory / "pki", engines_bin()
    data = directory / cluster
    data.mkdir(exist_ok=True)
    _spawn(directory, state, f"{cluster}-etcd", [
        str(bin_dir / "etcd"), "--name", cluster, "--data-dir", str(data / "etcd"),
        "--listen-client-urls", f"http://{LOCALHOST}:{ports.etcd}", "--advertise-client-urls", f"http://{LOCALHOST}:{ports.etcd}",
        "--listen-peer-urls", f"http://{LOCALHOST}:{ports.etcd_peer}",
        "--initial-advertise-peer-urls", f"http://{LOCALHOST}:{ports.etcd_peer}",
        "--initial-cluster", f"{cluster}=http://{LOCALHOST}:{ports.etcd_peer}",
        "--log-level", "warn",
    ])  # fmt: skip
    _spawn(directory, state, f"{cluster}-apiserver", _apiserver_argv(directory, state, cluster))
    _wait("etcd answer", lambda: _listening(ports.etcd),
          directory, f"{cluster}-etcd", state)  # fmt: skip
    _wait("/readyz 200", lambda: _api_ready(directory, ports.api), directory, f"{cluster}-apiserver", state)
    _spawn(directory, state, f"{cluster}-controller-manager", [
        str(bin_dir / "kube-controller-manager"),
        f"--kubeconfig={directory / f'{cluster}-admin.kubeconfig'}",
        "--secure-port=0", "--leader-elect=false",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / f'sa-{cluster}.key'}",
        "--use-service-account-credentials=false",
    ])  # fmt: skip


def _admin_kubeconfig(directory: Path, cluster: str) -> Path:
    """A one-context kubeconfig as the admin, for the processes (controller manager, ESO) of `cluster`."""
    path = directory / f"{cluster}-admin.kubeconfig"
    view = subprocess.run(
        [str(engines_bin() / "kubectl"), "--kubeconfig", str(kubeconfig(directory)), "config", "view", "--minify", "--flatten",
         "--context", f"ameide-{cluster}-admin"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path.write_text(view)
    path.chmod(0o600)
    return path


def _bootstrap(
    directory: Path, cluster: str, settings: StackSettings, declared: tuple[inventory.DeclaredWorkload, ...], vault_ca: str
) -> None:
    """Namespaces, users' RBAC, ESO's CRDs and the Vault CA the store reads; cluster-managed Secrets CNPG would create."""
    admin = f"ameide-{cluster}-admin"
    namespaces = sorted({*inventory.namespaces(declared), settings.eso_namespace, CI_NAMESPACE, DEVELOPER_NAMESPACE})
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces]
    objects += [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "ameide-testenv-platform"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": settings.platform_identity}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": ESO_EDIT_ROLE, "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
            "rules": [{"apiGroups": [vocabulary.ESO_GROUP, vocabulary.GENERATORS_GROUP], "resources": ["*"],
                       "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "ameide-testenv-developer", "namespace": DEVELOPER_NAMESPACE},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": DEVELOPER}],
        },
    ]  # fmt: skip
    if settings.vault_ca_kind == "ConfigMap" and settings.vault_ca_name and settings.vault_ca_key:
        objects.append({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": settings.vault_ca_name, "namespace": settings.vault_ca_namespace or settings.eso_namespace},
            "data": {settings.vault_ca_key: vault_ca},
        })  # fmt: skip
    for workload in declared:
        for name in workload.args.existing_secrets:
            # What CNPG would create: a Secret this program only points at (its value is a throwaway).
            objects.append({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": workload.args.namespace},
                "data": {"password": base64.b64encode(secrets.token_bytes(16)).decode()},
            })  # fmt: skip
    apply(directory, admin, objects)
    kubectl(directory, admin, "apply", "--server-side", "-f", str(eso_crds()))
    kubectl(directory, admin, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")


def _start_vault(directory: Path, state: State, cluster: str) -> vault.VaultClient:
    ports = state.clusters[cluster]
    tls = directory / f"{cluster}-vault"
    tls.mkdir(exist_ok=True)
    token = state.vault_tokens[cluster]
    # Vault's own request counts (`sys/metrics?format=prometheus`, cumulative per route): what a load test reads.
    (tls / "telemetry.hcl").write_text(VAULT_TELEMETRY)
    _spawn(directory, state, f"{cluster}-vault", [
        str(engines_bin() / "bao"), "server", "-dev", "-dev-tls", f"-dev-tls-cert-dir={tls}",
        f"-dev-listen-address={LOCALHOST}:{ports.vault}", "-dev-no-store-token", f"-config={tls / 'telemetry.hcl'}",
    ], env={"BAO_DEV_ROOT_TOKEN_ID": token})  # fmt: skip
    client = vault_client(directory, state, cluster)
    _wait("/v1/sys/health 200", lambda: client.request("GET", "sys/health")[0] == 200, directory, f"{cluster}-vault", state)
    return client


VAULT_TELEMETRY = 'telemetry {\n  prometheus_retention_time = "24h"\n  disable_hostname = true\n}\n'


def vault_metrics(directory: Path, state: State, cluster: str) -> dict[str, float]:
    """The cluster's Vault's own metrics (Prometheus text of `sys/metrics`): name with labels -> value.
    `vault_route_<op>_<mount>__count` is how many requests Vault served on that route since it started."""
    client = vault_client(directory, state, cluster)
    request = urllib.request.Request(
        f"{client.address}/v1/sys/metrics?format=prometheus", headers={"X-Vault-Token": client.token}
    )
    context = ssl.create_default_context(cafile=client.ca_file)
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return parse_metrics(response.read().decode())


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition: `name{labels}` -> value (comments and help lines skipped)."""
    metrics = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            metrics[name] = float(value)
    return metrics


def vault_client(directory: Path, state: State, cluster: str) -> vault.VaultClient:
    """The cluster's Vault as its root token (setup and tests only)."""
    return vault.VaultClient(
        f"https://{LOCALHOST}:{state.clusters[cluster].vault}",
        state.vault_tokens[cluster],
        str(directory / f"{cluster}-vault" / "vault-ca.pem"),
    )


def _start_eso(directory: Path, state: State, cluster: str) -> None:
    _spawn(directory, state, f"{cluster}-eso", [
        str(engines_bin() / "external-secrets"),
        f"--metrics-addr={LOCALHOST}:{state.clusters[cluster].eso_metrics}",
        "--enable-leader-election=false",
        "--concurrent=4",
        "--loglevel=info",
    ], env={"KUBECONFIG": str(directory / f"{cluster}-admin.kubeconfig")})  # fmt: skip


# ---- stack config ----------------------------------------------------------------------------------


def write_stack_file(directory: Path, state: State, stack: str, project: Project) -> Path:
    """D/Pulumi.<stack>.yaml: the committed file plus what this environment needs."""
    committed = project.stack_file(stack)
    ports = state.clusters[stack]
    overrides = {
        "vaultServer": f"https://{LOCALHOST}:{ports.vault}",
        "vaultKubernetesHost": f"https://{LOCALHOST}:{ports.api}",
        "vaultKubernetesCaCert": (directory / "pki" / "ca.crt").read_text(),
        "refreshInterval": REFRESH_INTERVAL,
        # The loopback Vault serves one test run: rotation is watched within seconds, below production's floor.
        "refreshIntervalFloor": REFRESH_INTERVAL,
        "readinessTimeoutSeconds": READINESS_TIMEOUT_SECONDS,
        # The Pulumi Vault provider cannot be built here: `lab.testenv vault` applies the same Vault side.
        "vaultManage": False,
    }
    config = {**committed.get("config", {}), **{f"{PROJECT}:{key}": value for key, value in overrides.items()}}
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


def local_pulumi_env(directory: Path, passphrase: str) -> dict[str, str]:
    """`pulumi` of `make engines` with its home and a file backend under `directory`: nothing downloaded,
    nothing of the caller's Pulumi, Vault or Kubernetes settings inherited."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_", "KUBECONFIG"))},
        "PATH": f"{engines_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_HOME": str(directory / "home"),
        "PULUMI_BACKEND_URL": f"file://{directory / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def pulumi_env(directory: Path, state: State) -> dict[str, str]:
    """The environment `pulumi` runs in against this testenv."""
    return {**local_pulumi_env(directory, state.passphrase), "KUBECONFIG": str(kubeconfig(directory))}


def _init_stack(directory: Path, state: State, stack: str, root: Path) -> None:
    """Create `stack` in the file backend and put its passphrase salt into D/Pulumi.<stack>.yaml.

    `pulumi stack init` writes the salt into the project's Pulumi.<stack>.yaml and has no --config-file:
    it runs in a stub project holding only Pulumi.yaml, so the repository's stack file stays untouched.
    """
    stub = directory / "stub"
    stub.mkdir(exist_ok=True)
    (stub / "Pulumi.yaml").write_text((root / "Pulumi.yaml").read_text())
    completed = subprocess.run(
        ["pulumi", "stack", "init", stack, "--secrets-provider", "passphrase", "--non-interactive"],
        cwd=stub, env=pulumi_env(directory, state), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if completed.returncode != 0:
        raise TestEnvError(f"pulumi stack init {stack}: {completed.stderr.strip()}")
    salt = yaml.safe_load((stub / f"Pulumi.{stack}.yaml").read_text())["encryptionsalt"]
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "encryptionsalt": salt}, sort_keys=False))


def stack_for(directory: Path, stack: str, root: Path = REPOSITORY) -> Stack:
    """The stack as `pulumi --config-file D/Pulumi.<stack>.yaml` sees it, with the modules under `root` as they are now."""
    return Project(root).stack(stack, config_file=directory / f"Pulumi.{stack}.yaml")


def apply_vault(directory: Path, stack: str, root: Path = REPOSITORY) -> list[str]:
    """What `VaultAccess` would do for `stack` (its workloads as the modules under `root` declare them now),
    and a random value for every field of every key its ExternalSecrets read that Vault does not hold yet.

    A key Vault already holds is never written again (no new version, no invented field): if it lacks a
    field a ref names, this refuses, naming the key and the field, before changing anything."""
    state = State.load(directory)
    computed = stack_for(directory, stack, root)
    mount = computed.settings.vault_kv_mount
    client, ports = vault_client(directory, state, stack), state.clusters[stack]
    new: dict[str, list[str]] = {}
    lacking: list[str] = []
    for key, properties in vault.read_properties(computed.manifests).items():
        status, answer = client.request("GET", f"{mount}/data/{key}")
        if status != 200:
            new[key] = properties
        elif missing := [name for name in properties if name not in ((answer.get("data") or {}).get("data") or {})]:
            lacking += [f"{mount}/{key} has no field {name!r}" for name in missing]
    if lacking:
        raise TestEnvError(
            "; ".join(lacking) + ": this environment never writes over a secret Vault holds; "
            f"add the field yourself (bao kv patch {mount}/<key> <field>=…) or fix the declaration"
        )
    for key, properties in new.items():
        client.write_kv2(mount, key, {name: vault.random_value() for name in properties})
    return vault.apply_stack(client, computed, f"https://{LOCALHOST}:{ports.api}", (directory / "pki" / "ca.crt").read_text())


# ---- the legacy chart -------------------------------------------------------------------------------

LEGACY_CHART = Path(__file__).parent / "legacy-chart"
LEGACY_RELEASE = "vault-secrets"
LEGACY_ROLE = "vault-secrets-legacy"


def helm(directory: Path, cluster: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`helm` of `make engines` against `cluster` as its admin."""
    return subprocess.run(
        [str(engines_bin() / "helm"), "--kubeconfig", str(kubeconfig(directory)), "--kube-context", f"ameide-{cluster}-admin", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def install_legacy(directory: Path, cluster: str, objects: Sequence[str] = ()) -> None:
    """The world before the migration in `cluster`: the legacy chart (its own store, reading every key as one
    identity in ESO's namespace) with only `objects` (its ExternalSecrets' names; default all), that
    identity's Vault role and policy, and a value for every field they read that Vault does not hold yet
    (never over a secret Vault holds). Only before this program's first deploy there: its admission
    policy refuses new objects on another store in admitted namespaces."""
    directory = directory.resolve()
    state = State.load(directory)
    if kubectl(
        directory, f"ameide-{cluster}-admin", "get", "validatingadmissionpolicy", "-o", "name", check=False
    ).stdout.strip():
        raise TestEnvError(
            f"{cluster}: ameide-secrets is already deployed there, and its admission policy refuses the legacy chart's "
            f"new objects; install the chart in a fresh environment (down, then up --dir another directory) before `pulumi up`"
        )
    client = vault_client(directory, state, cluster)
    mount = stack_for(directory, cluster).settings.vault_kv_mount
    client.put_policy("legacy-read-all", f'path "{mount}/data/*" {{ capabilities = ["read"] }}')
    client.ok("POST", f"auth/kubernetes/role/{LEGACY_ROLE}", {
        "bound_service_account_names": [LEGACY_RELEASE], "bound_service_account_namespaces": ["external-secrets"],
        "token_policies": ["legacy-read-all"], "token_ttl": 600,
    })  # fmt: skip
    chart = yaml.safe_load((LEGACY_CHART / "values.yaml").read_text())["externalSecrets"]
    if unknown := sorted(set(objects) - set(chart)):
        raise TestEnvError(f"the legacy chart holds no ExternalSecret {', '.join(unknown)} (it holds {', '.join(sorted(chart))})")
    dropped = [name for name in chart if objects and name not in objects]
    chart = {name: es for name, es in chart.items() if name not in dropped}
    fields: dict[str, set[str]] = {}
    for es in chart.values():
        for ref in es["data"].values():
            fields.setdefault(ref["key"], set()).add(ref["property"])
    for key, names in sorted(fields.items()):
        if client.request("GET", f"{mount}/data/{key}")[0] == 404:
            client.write_kv2(mount, key, {name: vault.random_value() for name in sorted(names)})
    installed = helm(directory, cluster, "install", LEGACY_RELEASE, str(LEGACY_CHART), "-n", "external-secrets",
                     "--set", f"vault.server={client.address}", *(f"--set=externalSecrets.{name}=null" for name in dropped))  # fmt: skip
    if installed.returncode != 0:
        raise TestEnvError(f"helm install {LEGACY_RELEASE} in {cluster}: {installed.stderr.strip()}")


# ---- up / down -------------------------------------------------------------------------------------


def up(directory: Path, root: Path = REPOSITORY, clusters: Sequence[str] = CLUSTERS) -> State:
    """Start both clusters (or only `clusters`), their ESO and Vault; on any failure stop what was started and raise."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "state.json").exists():
        if any(_alive(pid) for pid in State.load(directory).pids.values()):
            raise TestEnvError(
                f"{directory}: an environment is already running there (`python -m lab.testenv down --dir {directory}`)"
            )
        # A stopped environment's state, clusters and Vault were made for its own passphrase and tokens:
        # reusing them fails later with "incorrect passphrase". This one starts from nothing.
        _clear(directory)
    missing = [name for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl", "external-secrets", "bao")
               if not (engines_bin() / name).is_file()]  # fmt: skip
    if missing:
        raise TestEnvError(f"not built in {engines_bin()}: {', '.join(missing)} (run `make engines`)")
    project = Project(root)
    declared = project.declared
    settings = {stack: project.stack(stack).settings for stack in clusters}
    identities = {s.platform_identity for s in settings.values()}
    if len(identities) != 1:
        raise TestEnvError(f"the stacks' platformIdentity differ ({sorted(identities)}): one certificate user plays it")
    ports = iter(free_ports(5 * len(clusters)))
    state = State(
        {cluster: ClusterPorts(*(next(ports) for _ in range(5))) for cluster in clusters},
        {},
        secrets.token_urlsafe(24),
        {cluster: secrets.token_urlsafe(24) for cluster in clusters},
    )
    state.save(directory)
    for sub in ("state", "home"):
        (directory / sub).mkdir(exist_ok=True)
    try:
        make_pki(directory / "pki", identities.pop())
        _write_kubeconfig(directory, state)
        for cluster in clusters:
            _admin_kubeconfig(directory, cluster)
            _start_cluster(directory, state, cluster)
            _start_vault(directory, state, cluster)
        for cluster in clusters:
            vault_ca = (directory / f"{cluster}-vault" / "vault-ca.pem").read_text()
            _bootstrap(directory, cluster, settings[cluster], declared, vault_ca)
            _start_eso(directory, state, cluster)
            write_stack_file(directory, state, cluster, project)
            _init_stack(directory, state, cluster, root)
            apply_vault(directory, cluster, root)
    except BaseException:
        down(directory)
        raise
    return state


def _made_by_up() -> list[str]:
    """What `up` writes into its directory, and nothing else there."""
    per_cluster = [
        name
        for cluster in CLUSTERS
        for name in (cluster, f"{cluster}-vault", f"{cluster}-admin.kubeconfig", f"Pulumi.{cluster}.yaml")
    ]
    return ["state.json", "state", "home", "pki", "stub", "logs", "kubeconfig", *per_cluster]


def _clear(directory: Path) -> None:
    for name in _made_by_up():
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _stop(pid: int, directory: Path) -> bool:
    """SIGTERM the process group of `pid` if it still runs a process of `directory`, SIGKILL after 15 s."""
    if not (_alive(pid) and _ours(pid, directory)):
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


# What a fault test may stop and start again on its own: the rest of the cluster keeps running (etcd keeps
# its data, so a restarted API server serves the same objects, UIDs and resource versions).
RESTARTABLE = ("apiserver", "eso")


def _restartable(state: State, name: str) -> tuple[str, str]:
    cluster, _, part = name.rpartition("-")
    if cluster not in state.clusters or part not in RESTARTABLE:
        raise TestEnvError(f"{name}: only {', '.join(f'<cluster>-{p}' for p in RESTARTABLE)} can be stopped and started")
    return cluster, part


def stop(directory: Path, state: State, name: str) -> None:
    """Stop one process of a running environment (`staging-apiserver`, `production-eso`, …) and forget its pid."""
    directory = directory.resolve()
    _restartable(state, name)
    pid = state.pids.pop(name, None)
    state.save(directory)
    if pid is None or not _stop(pid, directory):
        raise TestEnvError(f"{name} was not running")


def start(directory: Path, state: State, name: str) -> None:
    """Start a process `stop` stopped, as `up` did (same ports, flags and log), and wait until it serves."""
    directory = directory.resolve()
    cluster, part = _restartable(state, name)
    if name in state.pids and _alive(state.pids[name]):
        raise TestEnvError(f"{name} is already running")
    if part == "apiserver":
        _spawn(directory, state, name, _apiserver_argv(directory, state, cluster))
        _wait("/readyz 200", lambda: _api_ready(directory, state.clusters[cluster].api), directory, name, state)
    else:
        _start_eso(directory, state, cluster)
        _wait("metrics port", lambda: _listening(state.clusters[cluster].eso_metrics), directory, name, state)


def down(directory: Path) -> list[str]:
    """Stop every process `up` started here, newest first; the names of those that were running."""
    directory = directory.resolve()
    state = State.load(directory)
    stopped = [name for name, pid in reversed(list(state.pids.items())) if _stop(pid, directory)]
    state.pids = {}
    state.save(directory)
    return stopped


def exports(directory: Path, stack: str = CLUSTERS[0]) -> str:
    directory = directory.resolve()
    state = State.load(directory)
    vault = vault_client(directory, state, stack)
    env = pulumi_env(directory, state)
    values = {
        "KUBECONFIG": env["KUBECONFIG"],
        "VAULT_ADDR": vault.address,
        "VAULT_CACERT": str(vault.ca_file),
        "VAULT_TOKEN": vault.token,
        "PULUMI_HOME": env["PULUMI_HOME"],
        "PULUMI_BACKEND_URL": env["PULUMI_BACKEND_URL"],
        "PULUMI_CONFIG_PASSPHRASE": env["PULUMI_CONFIG_PASSPHRASE"],
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PATH": env["PATH"],
        "AMEIDE_TESTENV": str(directory),
    }
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())


@contextmanager
def running(directory: Path, root: Path = REPOSITORY, clusters: Sequence[str] = CLUSTERS) -> Iterator[State]:
    """`up`, then `down` on exit whatever happens (the e2e scenario's fixture)."""
    state = up(directory, root, clusters)
    try:
        yield state
    finally:
        down(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.testenv", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "env", "vault", "legacy"])
    parser.add_argument("--dir", required=True, type=Path, help="where the environment's files, state and logs live")
    parser.add_argument(
        "--stack", choices=CLUSTERS, default=CLUSTERS[0], help="env: whose Vault to export; vault, legacy: which stack"
    )
    parser.add_argument(
        "--objects", nargs="+", default=(), help="legacy: only these of the chart's ExternalSecrets (default: all)"
    )
    options = parser.parse_args(argv)
    try:
        if options.command == "up":
            up(options.dir)
            # Also as a file: `up && . D/env.sh` stops a script on a failed start, `eval "$(up)"` would not.
            env_file = options.dir / "env.sh"
            env_file.write_text(exports(options.dir))
            env_file.chmod(0o600)
            sys.stdout.write(env_file.read_text())
            print(
                f"# Vault above is {CLUSTERS[0]}'s; `python -m lab.testenv env --dir {options.dir} --stack production` for the other.",
                file=sys.stderr,
            )
        elif options.command == "env":
            sys.stdout.write(exports(options.dir, options.stack))
        elif options.command == "vault":
            print(" ".join(apply_vault(options.dir.resolve(), options.stack)))
        elif options.command == "legacy":
            install_legacy(options.dir, options.stack, options.objects)
            print(f"installed {LEGACY_RELEASE} ({LEGACY_CHART.relative_to(REPOSITORY)}) in {options.stack}", file=sys.stderr)
        else:
            stopped = down(options.dir)
            print(f"stopped: {', '.join(stopped) or 'nothing was running'}", file=sys.stderr)
    except (TestEnvError, InputError, vault.VaultError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
