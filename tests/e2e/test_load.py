"""Load (#24, item 6): ESO's controller and OpenBao under the full inventory, 1000 ExternalSecrets on the
loopback staging cluster — the first sync, the refresh storm after ESO was down for a refresh interval,
and the steady state the refresh-interval floor bounds.

The inventory is `lab.bench`'s synthetic workloads (3 ExternalSecrets of 5 data entries each, 20
namespaces, 10 teams): `testenv up` seeds every key they read in Vault and applies the stack's Vault side.
The objects are the program's own rendering of the stack (`Stack.manifests`, what `pulumi up` sends),
server-side applied with kubectl as the cluster admin — not `pulumi up`, which takes several minutes at
this size and is not what is under load here (`docs/performance.md` has the engine's figures). The
stack's `refreshInterval` and `refreshIntervalFloor` are both `REFRESH_INTERVAL`.

Every rate is Vault's own count (`sys/metrics`, per route, since the server started), read before and
after each phase; the Secrets and conditions are the API server's.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ameide_secrets.declare.settings import PROJECT
from ameide_secrets.render import vault_plan
from ameide_secrets.rules import refresh
from lab import bench, testenv
from lab.vault import VaultClient

from .cluster import Environment, Kube, eventually, secret_mismatches
from .test_testenv import processes_in

EXTERNAL_SECRETS = 1000
STACK = "staging"
MOUNT = "secret"
REFRESH_INTERVAL = "90s"
"""The stack's refresh interval and its floor: long enough for ESO on 2 shared cores to refresh all 1000
in one (about 10 refreshes a second: 60s was too short, ESO never idled), short enough to watch each phase."""
SYNC_TIMEOUT = 300.0
"""The first sync and the storm each fail the test after this long: the test stops by itself."""
POLL_SECONDS = 2.0
RATE_TOLERANCE = 1.15
"""Vault reads in the steady window may exceed the floor's bound by this factor (retries, a round's
stragglers counted twice at the window's edges), never more."""
LOGIN_ROUTE = "vault_route_update_auth_kubernetes__count"
READ_ROUTE = f"vault_route_read_{MOUNT}__count"
ALL_REQUESTS = "vault_core_handle_request_count"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    root = tmp_path_factory.mktemp("load")
    (root / "project").mkdir()
    project = bench.write_project(root / "project", math.ceil(EXTERNAL_SECRETS / bench.SECRETS_PER_WORKLOAD))
    directory = root / "testenv"
    with testenv.running(directory, project, clusters=(STACK,)) as state:
        stack_file = directory / f"Pulumi.{STACK}.yaml"
        document = yaml.safe_load(stack_file.read_text())
        for key in ("refreshInterval", "refreshIntervalFloor"):
            document["config"][f"{PROJECT}:{key}"] = REFRESH_INTERVAL
        stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
        yield Environment(directory, project, state)
    assert processes_in(directory) == []


@dataclass(frozen=True)
class Counts:
    """Vault's request counters at one moment, and when."""

    at: float
    reads: float
    logins: float
    requests: float

    def rates(self, later: Counts) -> dict[str, float]:
        seconds = later.at - self.at
        return {
            "seconds": seconds,
            "reads": later.reads - self.reads,
            "logins": later.logins - self.logins,
            "requests": later.requests - self.requests,
            "reads/s": (later.reads - self.reads) / seconds,
            "logins/s": (later.logins - self.logins) / seconds,
            "requests/s": (later.requests - self.requests) / seconds,
        }


def counts(env: Environment) -> Counts:
    metrics = testenv.vault_metrics(env.directory, env.state, STACK)
    return Counts(time.monotonic(), metrics.get(READ_ROUTE, 0.0), metrics.get(LOGIN_ROUTE, 0.0), metrics[ALL_REQUESTS])


STATUS = (
    '{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\t"}{.spec.refreshInterval}{"\\t"}'
    '{.status.refreshTime}{"\\t"}{.status.conditions[?(@.type=="Ready")].reason}{"\\n"}{end}'
)


@dataclass(frozen=True)
class Status:
    refresh_interval: str
    refresh_time: str
    reason: str


def statuses(kube: Kube) -> dict[str, Status]:
    """`namespace/name` -> what the API server holds of each ExternalSecret's refresh."""
    lines = kube.ctl("get", "externalsecrets", "-A", "-o", f"jsonpath={STATUS}").stdout.splitlines()
    return {name: Status(*rest) for name, *rest in (f"{line}\t\t\t".split("\t")[:4] for line in lines if line)}


def secret_names(kube: Kube) -> set[str]:
    listed = kube.ctl("get", "secrets", "-A", "-l", "ameide.io/workload", "-o",
                      'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}')  # fmt: skip
    return set(listed.stdout.split())


def wall_stamp() -> str:
    """Now as ESO writes `status.refreshTime` (RFC 3339, whole seconds, UTC): compares as a string."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cpu_seconds(env: Environment, name: str) -> float:
    """User and system CPU seconds of one environment process so far (from /proc)."""
    pid = env.state.pids[name]  # `start` records a restarted process under its new pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_tokens(vault: VaultClient) -> int:
    """How many tokens Vault holds (their accessors, as root)."""
    status, listed = vault.request("LIST", "auth/token/accessors")
    assert status == 200, listed
    return len(listed["data"]["keys"])


def all_refreshed_since(kube: Kube, names: set[str], since: str) -> dict[str, Status] | None:
    found = statuses(kube)
    done = {n: s for n, s in found.items() if n in names and s.reason == "SecretSynced" and s.refresh_time >= since}
    return done if len(done) == len(names) else None


def test_eso_and_vault_at_1000_external_secrets_when_synced_restarted_and_refreshing_then_all_synced_and_reads_within_the_floor(
    env: Environment,
) -> None:
    started = time.monotonic()
    kube = env.kube(STACK)
    admin = f"ameide-{STACK}-admin"
    stack = testenv.stack_for(env.directory, STACK, env.project)
    assert stack.settings.refresh_interval_floor == REFRESH_INTERVAL
    manifests = [m for m in stack.manifests if m["kind"] == "ExternalSecret"][:EXTERNAL_SECRETS]
    assert len(manifests) == EXTERNAL_SECRETS
    names = {f"{m['metadata']['namespace']}/{m['metadata']['name']}" for m in manifests}
    targets = {f"{m['metadata']['namespace']}/{m['spec']['target']['name']}" for m in manifests}
    entries = sum(len(m["spec"]["data"]) for m in manifests)
    interval = refresh.seconds(REFRESH_INTERVAL)

    # The platform's objects first (store, service accounts, admission policies), the store valid.
    testenv.apply(env.directory, admin, [m for m in stack.manifests if m["kind"] != "ExternalSecret"])
    kube.ctl("wait", "--for=condition=Ready", "clustersecretstore/ameide-vault", "--timeout=90s")

    # 1. The first sync: 1000 ExternalSecrets applied at once.
    vault = env.vault(STACK)
    tokens_before = live_tokens(vault)  # the root token, the store's validation login
    before = counts(env)
    eso_cpu = cpu_seconds(env, f"{STACK}-eso")
    for chunk in range(0, EXTERNAL_SECRETS, 250):
        testenv.apply(env.directory, admin, manifests[chunk : chunk + 250])
    applied = time.monotonic() - before.at
    eventually(
        "every ExternalSecret synced and its Secret written",
        lambda: all_refreshed_since(kube, names, "") and targets <= secret_names(kube),
        timeout=SYNC_TIMEOUT, interval=POLL_SECONDS,
    )  # fmt: skip
    synced = counts(env)
    first = before.rates(synced)
    first_cpu = cpu_seconds(env, f"{STACK}-eso") - eso_cpu
    print(f"\nfirst sync: {EXTERNAL_SECRETS} ExternalSecrets ({entries} data entries) applied in {applied:.1f}s, "
          f"all synced after {first['seconds']:.1f}s; Vault: {first['reads']:.0f} reads ({first['reads/s']:.1f}/s), "
          f"{first['logins']:.0f} logins, {first['requests/s']:.1f} requests/s; ESO CPU {first_cpu:.1f}s")  # fmt: skip
    # Every entry was read, and each refresh (those synced early refresh again before the last one) is one
    # login to Vault and one read per entry: nothing retried.
    per_refresh = entries / EXTERNAL_SECRETS
    assert first["reads"] >= entries, first
    assert first["logins"] >= EXTERNAL_SECRETS, first
    assert abs(first["reads"] - per_refresh * first["logins"]) <= per_refresh * 5, first
    for manifest in manifests[:: EXTERNAL_SECRETS // 10]:
        namespace, target = manifest["metadata"]["namespace"], manifest["spec"]["target"]["name"]
        assert secret_mismatches(vault, MOUNT, manifest, kube.secret_data(namespace, target)) == []

    # 2. The floor: every object on the cluster refreshes no faster than it, and the API server refuses one that would.
    assert {s.refresh_interval for n, s in statuses(kube).items() if n in names} == {REFRESH_INTERVAL}
    faster = yaml.safe_load(yaml.safe_dump(manifests[0]))
    faster["metadata"]["name"] = "load-faster"
    faster["spec"]["target"]["name"] = "load-faster"
    faster["spec"]["refreshInterval"] = "1s"
    refused = kube.ctl("create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(faster), check=False)
    assert refused.returncode != 0, refused.stdout
    assert f"below the platform's floor {REFRESH_INTERVAL}" in refused.stderr, refused.stderr

    # 3. ESO down for a whole refresh interval, so every ExternalSecret is due when it returns: the storm.
    testenv.stop(env.directory, env.state, f"{STACK}-eso")
    stopped = counts(env)
    time.sleep(interval + 2)
    down = stopped.rates(counts(env))
    since = wall_stamp()
    testenv.start(env.directory, env.state, f"{STACK}-eso")
    restarted = counts(env)
    eso_cpu = cpu_seconds(env, f"{STACK}-eso")
    eventually(
        "every ExternalSecret refreshed after ESO's restart",
        lambda: all_refreshed_since(kube, names, since), timeout=SYNC_TIMEOUT, interval=POLL_SECONDS,
    )  # fmt: skip
    stormed = counts(env)
    storm = restarted.rates(stormed)
    storm_cpu = cpu_seconds(env, f"{STACK}-eso") - eso_cpu
    print(f"ESO down {down['seconds']:.0f}s: Vault {down['reads']:.0f} reads; restarted: all {EXTERNAL_SECRETS} refreshed "
          f"after {storm['seconds']:.1f}s; Vault: {storm['reads']:.0f} reads ({storm['reads/s']:.1f}/s), "
          f"{storm['logins/s']:.1f} logins/s, {storm['requests/s']:.1f} requests/s; ESO CPU {storm_cpu:.1f}s")  # fmt: skip
    assert down["reads"] == 0, down
    assert storm["reads"] >= entries, storm
    assert set(secret_names(kube)) >= targets

    # 4. The steady state, one refresh interval after the storm: each ExternalSecret refreshes once in it.
    time.sleep(interval)
    steady = stormed.rates(counts(env))
    bound = entries / interval
    print(f"steady {steady['seconds']:.0f}s window: Vault {steady['reads/s']:.1f} reads/s "
          f"(floor's bound {bound:.1f}/s: {EXTERNAL_SECRETS} ExternalSecrets x {entries // EXTERNAL_SECRETS} entries / "
          f"{REFRESH_INTERVAL}), {steady['logins/s']:.1f} logins/s, {steady['requests/s']:.1f} requests/s")  # fmt: skip
    assert steady["reads/s"] <= bound * RATE_TOLERANCE, steady
    # …and ESO keeps refreshing (a stalled controller would pass the bound too).
    assert steady["logins"] >= EXTERNAL_SECRETS / 2, steady
    final = statuses(kube)
    assert all(final[n].reason == "SecretSynced" for n in names)

    # 5. The tokens ESO's logins left in Vault: bounded by the logins of the role's token TTL, never more.
    live, logins = live_tokens(vault) - tokens_before, counts(env).logins - before.logins
    assert time.monotonic() - before.at < vault_plan.TOKEN_TTL_SECONDS  # none expired yet: every login counts
    assert live <= logins, (live, logins)
    print(f"Vault holds {live} live tokens after {logins:.0f} logins (TTL {vault_plan.TOKEN_TTL_SECONDS}s)")
    print(f"whole test {time.monotonic() - started:.0f}s")
