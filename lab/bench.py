"""Benchmark the offline preview at ameide's scale and beyond.

    python -m lab.bench [--sizes 10 100 1000] [--stack production] [--formats yaml json text]
                          [--peers cdk8s helm engine] [--json]

For each size N it writes N synthetic but realistic workloads (3 ExternalSecrets each, 5 data
entries each, string / RemoteRef / camelCase-dict refs mixed, 20 namespaces, 10 teams) into a
temporary directory, then runs the offline preview end to end in a fresh process per format
(discovery and validation, rendering, ESO CRD schema and policy checks, output) and reports
wall time, time per phase, time per ExternalSecret and peak memory. Beside it, the floor: the
same manifests as plain dicts dumped with libyaml's CSafeDumper. The repository is not touched.

Peers (each a fresh process, wall time and the peak memory of its largest process), each checked
to render the same ExternalSecrets: `cdk8s` — `cdk8s synth` of a chart holding them (cdk8s from
npm at the versions pinned in lab/cdk8s-peer/, installed into .cache/cdk8s on first use), beside
`yaml process`: the whole `ameide-secrets preview --format yaml` process over the same workloads
(start-up, discovery, checks, output); with `make engines` built, `helm` — `helm template` of a
values-driven central chart holding them, the kind of chart this program replaces — and `engine` —
the real Pulumi CLI, language host and kubernetes provider running `pulumi preview` and `pulumi up`
of the `local` stack (renderYamlToDirectory, file backend) over the same workloads in a project copy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ameide_secrets import checkpoints
from ameide_secrets.offline.crd_schema import crds_dir
from ameide_secrets.project import REPOSITORY, Project
from ameide_secrets.vocabulary import YAML_LOADER
from lab import testenv

TEAMS = 10
NAMESPACES = 20
SECRETS_PER_WORKLOAD = 3
ENTRIES_PER_SECRET = 5


def _ref(workload: str, secret: int, entry: int) -> str:
    key = f"{workload}/secret-{secret}"
    match entry % 3:
        case 0:
            return repr(f"{key}/entry-{entry}")
        case 1:
            return f'RemoteRef(key="{key}", property="field-{entry}")'
        case _:
            return f'{{"key": "{key}", "property": "field-{entry}", "decodingStrategy": "Base64"}}'


def workload_module(index: int) -> tuple[str, str]:
    """(relative path, source) of synthetic workload number `index`."""
    team, workload = f"team-{index % TEAMS}", f"service-{index}"
    specs = []
    for s in range(SECRETS_PER_WORKLOAD):
        data = ", ".join(f'"KEY_{e}": {_ref(workload, s, e)}' for e in range(ENTRIES_PER_SECRET))
        specs.append(f'        ExternalSecretSpec(name="{workload}-secret-{s}", data={{{data}}}),')
    source = "\n".join(
        [
            "from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs",
            "",
            "WORKLOAD = WorkloadSecretsArgs(",
            f'    workload="{workload}",',
            f'    team="{team}",',
            f'    namespace="ns-{index % NAMESPACES}",',
            '    rollout="production",',
            "    external_secrets=[",
            *specs,
            "    ],",
            ")",
            "",
        ]
    )
    return f"{team}/{workload.replace('-', '_')}.py", source


# What a project holds beside its team modules and registry: its settings and its program.
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.local.yaml", "Pulumi.staging.yaml", "Pulumi.production.yaml", "__main__.py")


def write_project(directory: Path, count: int) -> Path:
    """A project at `directory`: this one's settings and program, `count` synthetic team modules and the
    access registry granting them; returns its root."""
    for name in PROJECT_FILES:
        shutil.copy2(REPOSITORY / name, directory / name)
    root = directory / "workloads"
    teams: dict[str, dict[str, list[str]]] = {}
    for index in range(count):
        relative, source = workload_module(index)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        grant = teams.setdefault(f"team-{index % TEAMS}", {"namespaces": [], "workloads": []})
        grant["namespaces"] = sorted({*grant["namespaces"], f"ns-{index % NAMESPACES}"})
        grant["workloads"].append(path.stem.replace("_", "-"))
    registry = {"teams": teams, "legacy": {}}
    (directory / "platform").mkdir(exist_ok=True)
    (directory / "platform" / "tenants.yaml").write_text(yaml.safe_dump(registry))
    return directory


def measure(root: Path, stack: str, fmt: str) -> dict[str, Any]:
    """One preview run of the project at `root` in this process, phase by phase (run it in a fresh process)."""
    from ameide_secrets.offline import preview

    timings: dict[str, float] = {}
    start = time.perf_counter()
    rendered = preview.render(Project(root), stack, fmt, timings=timings, one_shot=True)
    wall = time.perf_counter() - start
    if rendered.violations:
        raise RuntimeError("\n".join(map(str, rendered.violations[:10])))
    floor_start = time.perf_counter()
    yaml.dump_all(rendered.objects, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False)
    floor = time.perf_counter() - floor_start
    external_secrets = sum(1 for o in rendered.objects if o["kind"] == "ExternalSecret")
    return {
        "format": fmt,
        "wall_s": wall,
        "phases_s": timings,
        "external_secrets": external_secrets,
        "per_external_secret_ms": 1000 * wall / max(external_secrets, 1),
        "floor_s": floor,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child_env() -> dict[str, str]:
    """A synthetic project is not beside ../shared: its runs validate against this checkout's CRDs."""
    return {**os.environ, "ESO_CRDS_DIR": str(crds_dir(REPOSITORY))}


def preview_objects(root: Path, stack: str) -> list[dict[str, Any]]:
    """The offline YAML view's objects for the project at `root` (what the peers are given to render)."""
    completed = subprocess.run(
        [sys.executable, "-m", "lab.bench", "--child-objects", str(root), stack],
        cwd=REPOSITORY, env=_child_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    objects: list[dict[str, Any]] = json.loads(completed.stdout)
    return objects


def run_child(root: Path, stack: str, fmt: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "lab.bench", "--child", str(root), stack, fmt],
        cwd=REPOSITORY,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench child ({fmt}) failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


# Runs a command from a fresh process and writes its wall time and the peak RSS (KiB) of its largest
# process (any descendant it waited for) to the file named first: neither this wrapper's start-up
# nor our own earlier children count.
_PEAK = (
    "import resource, subprocess, sys, time; start = time.perf_counter(); code = subprocess.call(sys.argv[2:]); "
    "wall = time.perf_counter() - start; "
    "open(sys.argv[1], 'w').write(f'{wall} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}'); sys.exit(code)"
)


class UnfinishedError(Exception):
    """A peer run stopped at its time limit (and every process it started with it); `cpu_s`: where its
    time had gone by then."""

    def __init__(self, message: str, cpu_s: dict[str, float]) -> None:
        super().__init__(message)
        self.cpu_s = cpu_s


def _session_processes(session: int) -> Iterator[tuple[int, list[str]]]:
    """(pid, the /proc stat fields after the command name) of every live process of `session`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) == session:  # the field after state, ppid, pgrp: the session id
            yield int(stat.parent.name), fields


def _kill_session(session: int) -> None:
    """SIGKILL every process of `session`: the Pulumi CLI starts its plugins in process groups of their own."""
    for pid, _ in _session_processes(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _program_name(pid: int) -> str:
    """What a process is, for a reader: its executable, and for Python the script or module it runs."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return "?"
    if argv == [""]:
        return "?"  # a zombie (ended, not yet reaped) reads empty
    name = Path(argv[0]).name
    if not name.startswith("python"):
        return name
    for i, arg in enumerate(argv[1:], 1):
        if arg == "-c":
            return "python -c"
        if arg == "-m":
            return f"python -m {argv[i + 1] if i + 1 < len(argv) else ''}".rstrip()
        if not arg.startswith("-"):
            return f"python {Path(arg).name}"
    return "python"


class _CpuSampler(threading.Thread):
    """CPU seconds per program of a session, sampled from /proc until stopped: where a run's time goes.
    A process that ends between two samples loses at most one interval of its time, and one that lives
    less than an interval may be missed: the figures are for runs of seconds and more."""

    INTERVAL = 0.2

    def __init__(self, session: int) -> None:
        super().__init__(daemon=True)
        self.session = session
        self.stopped = threading.Event()
        self.seen: dict[int, tuple[str, float]] = {}
        self._tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        for pid, fields in _session_processes(self.session):
            if pid == self.session:
                continue  # the measuring wrapper, which leads the session
            # Named anew each time: a child sampled between fork and exec still shows its parent's command line.
            # utime and stime, the 14th and 15th stat fields (12th and 13th after the name).
            name = _program_name(pid)
            if name == "?" and pid in self.seen:
                name = self.seen[pid][0]  # ended meanwhile, or a zombie: keep what it was
            self.seen[pid] = (name, (int(fields[11]) + int(fields[12])) / self._tick)

    def run(self) -> None:
        while not self.stopped.wait(self.INTERVAL):
            self.sample()

    def by_program(self) -> dict[str, float]:
        """CPU seconds per program name, largest first."""
        totals: dict[str, float] = {}
        for name, cpu in self.seen.values():
            totals[name] = totals.get(name, 0.0) + cpu
        return dict(sorted(totals.items(), key=lambda item: -item[1]))


@dataclass(frozen=True)
class Timed:
    """One command's run: wall seconds, peak MiB of its largest process, stdout, CPU seconds per program."""

    wall_s: float
    peak_mib: float
    stdout: str
    cpu_s: dict[str, float]


def _timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float | None = None) -> Timed:
    """One command run to completion; raise on failure. Past `timeout` seconds the command's whole
    session is killed and UnfinishedError raised."""
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as measured:
        process = subprocess.Popen(
            [sys.executable, "-c", _PEAK, measured.name, *argv],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        sampler = _CpuSampler(process.pid)
        sampler.start()
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            sampler.sample()
            _kill_session(process.pid)
            process.communicate()
            message = f"{' '.join(argv[:3])}: not finished after {timeout:.0f} s"
            raise UnfinishedError(message, sampler.by_program()) from None
        finally:
            sampler.stopped.set()
            sampler.join()
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed:\n{stdout[-2000:]}\n{stderr[-2000:]}")
        wall, peak = measured.read().split()
        return Timed(float(wall), int(peak) / 1024, stdout, sampler.by_program())


CENTRAL_CHART = """{{- range .Values.externalSecrets }}
---
{{ toYaml . }}
{{- end }}
"""


def helm_peer(directory: Path, external_secrets: list[dict[str, Any]]) -> dict[str, Any]:
    """`helm template` of a central chart whose values hold the same ExternalSecrets."""
    chart = directory / "central-chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: vault-secrets\nversion: 1.0.0\n")
    (chart / "templates" / "externalsecrets.yaml").write_text(CENTRAL_CHART)
    # Beside the chart, as a per-environment values file: Helm refuses chart files over 5 MiB, which
    # the values of 3000 ExternalSecrets are (a central chart of this size needs `-f` too).
    values = directory / "values.yaml"
    values.write_text(yaml.dump({"externalSecrets": external_secrets}, Dumper=yaml.CSafeDumper))
    helm = str(testenv.engines_bin() / "helm")
    run = _timed([helm, "template", "vault-secrets", str(chart), "-f", str(values)], directory)
    _same_documents(run.stdout, external_secrets, "helm template")
    return {"format": "helm template", "wall_s": run.wall_s, "peak_mib": run.peak_mib, "external_secrets": len(external_secrets)}


CDK8S_PEER = REPOSITORY / "lab" / "cdk8s-peer"
CDK8S_CACHE = REPOSITORY / ".cache" / "cdk8s"


def cdk8s_cli() -> Path:
    """The cdk8s CLI at the versions lab/cdk8s-peer/package-lock.json pins, installed from npm on first use."""
    lock = (CDK8S_PEER / "package-lock.json").read_bytes()
    cli, stamp = CDK8S_CACHE / "node_modules" / ".bin" / "cdk8s", CDK8S_CACHE / ".installed"
    if not cli.exists() or not stamp.exists() or stamp.read_bytes() != lock:
        CDK8S_CACHE.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(CDK8S_PEER / name, CDK8S_CACHE / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=CDK8S_CACHE, check=True, capture_output=True
        )
        stamp.write_bytes(lock)
    return cli


def _same_documents(text: str, expected: list[dict[str, Any]], who: str) -> None:
    # The same objects, or the comparison means nothing.
    if [d for d in yaml.load_all(text, Loader=YAML_LOADER) if d] != expected:
        raise RuntimeError(f"{who} did not render the ExternalSecrets it was given")


def cdk8s_peer(directory: Path, external_secrets: list[dict[str, Any]]) -> dict[str, Any]:
    """`cdk8s synth` of one chart holding the same ExternalSecrets (read from JSON, as Helm reads values)."""
    app = directory / "cdk8s-app"
    app.mkdir()
    for name in ("main.js", "cdk8s.yaml"):
        shutil.copy2(CDK8S_PEER / name, app / name)
    (app / "node_modules").symlink_to(cdk8s_cli().parent.parent)
    objects = directory / "objects.json"
    objects.write_text(json.dumps(external_secrets))
    # No upgrade check: it asks registry.npmjs.org synchronously on every run.
    argv = [str(cdk8s_cli()), "synth", "--check-upgrade=false"]
    run = _timed(argv, app, {**os.environ, "OBJECTS": str(objects)})
    _same_documents((app / "dist" / "vault-secrets.k8s.yaml").read_text(), external_secrets, "cdk8s synth")
    return {"format": "cdk8s synth", "wall_s": run.wall_s, "peak_mib": run.peak_mib, "external_secrets": len(external_secrets)}


def _project_with(synthetic: Path, target: Path, venvs: tuple[str, ...] = testenv.VENVS) -> Path:
    """A copy of this repository at `target` whose team modules and access registry are those of the project at `synthetic`."""
    project = testenv.project_copy(target, venvs)
    shutil.rmtree(project / "workloads")
    shutil.copytree(synthetic / "workloads", project / "workloads")
    shutil.copy2(synthetic / "platform" / "tenants.yaml", project / "platform" / "tenants.yaml")
    return project


def yaml_process(directory: Path, synthetic: Path, stack: str, external_secrets: int) -> dict[str, Any]:
    """The whole `ameide-secrets preview --format yaml` process over these workloads, in a project copy
    (the program reads its workloads beside its code): interpreter start-up, imports, discovery,
    schema and policy checks, output."""
    project = _project_with(synthetic, directory / "yaml-project", venvs=())
    argv = [sys.executable, "-m", "ameide_secrets", "preview", "--stack", stack, "--format", "yaml"]
    run = _timed(argv, project, _child_env())
    written = sum(1 for d in yaml.load_all(run.stdout, Loader=YAML_LOADER) if d and d["kind"] == "ExternalSecret")
    if written != external_secrets:
        raise RuntimeError(f"the YAML view wrote {written} ExternalSecrets, not {external_secrets}")
    return {"format": "yaml process", "wall_s": run.wall_s, "peak_mib": run.peak_mib, "external_secrets": written}


def engine_peer(
    directory: Path, synthetic: Path, external_secrets: int, timeout: float | None = None
) -> Iterator[dict[str, Any]]:
    """The real engine over the same workloads: `pulumi preview` (with and without checkpoints) then
    `pulumi up` of `local`, a row each as it finishes; a run past `timeout` seconds yields a row marked
    unfinished and ends the peer."""
    project = _project_with(synthetic, directory / "project")
    for sub in ("state", "home"):
        (directory / sub).mkdir()
    env = testenv.local_pulumi_env(directory, "bench-only")
    pulumi = str(testenv.engines_bin() / "pulumi")
    _timed([pulumi, "stack", "init", "local", "--non-interactive"], project, env)
    runs: tuple[tuple[str, list[str], dict[str, str]], ...] = (
        # A preview as the CLI's default runs it, re-serialising the whole snapshot after every step (its
        # profile at 300 workloads: 62% of its CPU), which is what grows faster than the stack; then as
        # this project runs every preview (checkpoints.py: a preview persists nothing, so none are written).
        ("pulumi preview", ["preview"], env),
        ("preview nockpt", ["preview"], checkpoints.environment("preview", env)),
        ("pulumi up", ["up", "--yes", "--skip-preview"], checkpoints.environment("up", env)),
    )
    for fmt, argv, run_env in runs:
        try:
            run = _timed([pulumi, *argv, "-s", "local", "--non-interactive"], project, run_env, timeout)
        except UnfinishedError as unfinished:
            yield {"format": fmt, "wall_s": timeout, "peak_mib": float("nan"), "unfinished": True, "cpu_s": unfinished.cpu_s}
            return
        yield {"format": fmt, "wall_s": run.wall_s, "peak_mib": run.peak_mib, "cpu_s": run.cpu_s}
    # A complete run: every ExternalSecret rendered to the stack's directory.
    rendered = (project / "rendered" / "local").rglob("*.yaml")
    documents = [d for path in rendered for d in yaml.load_all(path.read_text(), Loader=YAML_LOADER)]
    written = sum(1 for d in documents if d and d.get("kind") == "ExternalSecret")
    if written != external_secrets:
        raise RuntimeError(f"pulumi up rendered {written} ExternalSecrets, not {external_secrets}")


HEADER = f"{'N':>5} {'ES':>5} {'run':<14} {'wall s':>7} {'ms/ES':>6} {'peak MiB':>8} {'floor s':>7}  phases (s)"


def line(r: dict[str, Any]) -> str:
    phases = ", ".join(f"{k} {v:.3f}" for k, v in r.get("phases_s", {}).items())
    phases += "CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_s"].items()) if r.get("cpu_s") else ""
    floor = f"{r['floor_s']:>7.3f}" if "floor_s" in r else f"{'':>7}"
    wall = f"> {r['wall_s']:.0f}" if r.get("unfinished") else f"{r['wall_s']:.3f}"
    return (
        f"{r['workloads']:>5} {r['external_secrets']:>5} {r['format']:<14} {wall:>7} "
        f"{1000 * r['wall_s'] / r['external_secrets']:>6.3f} {r['peak_mib']:>8.1f} {floor}  {phases}"
    ).rstrip()


def growth(rows: list[dict[str, Any]]) -> dict[str, float]:
    """t(largest N) / t(previous N) per format: linear growth keeps it near the size ratio."""
    by_format: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_format.setdefault(r["format"], []).append(r)
    return {
        fmt: runs[-1]["wall_s"] / runs[-2]["wall_s"]
        for fmt, runs in by_format.items()
        if len(runs) >= 2 and not runs[-1].get("unfinished")
    }


def against_cdk8s(rows: list[dict[str, Any]]) -> dict[int, float]:
    """Workloads -> the whole YAML view's wall time over `cdk8s synth`'s on the same ExternalSecrets."""
    walls = {(r["workloads"], r["format"]): r["wall_s"] for r in rows}
    return {
        n: walls[(n, "yaml process")] / walls[(n, "cdk8s synth")]
        for n, fmt in walls
        if fmt == "cdk8s synth" and (n, "yaml process") in walls
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--stack", default="production")
    parser.add_argument("--formats", nargs="+", default=["yaml", "json", "text"], choices=["yaml", "json", "text"])
    parser.add_argument(
        "--peers", nargs="*", default=[], choices=["cdk8s", "helm", "engine"], help="also run these (helm, engine: make engines)"
    )
    parser.add_argument("--engine-timeout", type=float, help="stop a real-engine run after this many seconds (reported as > N)")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.add_argument("--child", nargs=3, metavar=("ROOT", "STACK", "FORMAT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-objects", nargs=2, metavar=("ROOT", "STACK"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        print(json.dumps(measure(Path(options.child[0]), options.child[1], options.child[2])))
        return 0
    if options.child_objects:
        from ameide_secrets.offline import preview

        print(json.dumps(preview.render(Project(Path(options.child_objects[0])), options.child_objects[1], "yaml").objects))
        return 0
    rows: list[dict[str, Any]] = []

    def record(row: dict[str, Any]) -> None:
        # Rows print as they finish: the real engine at 1000 workloads takes minutes.
        rows.append(row)
        if not options.json:
            print(line(row), flush=True)

    if not options.json:
        print(f"{HEADER}\n{'-' * len(HEADER)}", flush=True)
    for size in options.sizes:
        with tempfile.TemporaryDirectory(prefix="ameide-bench-") as tmp:
            synthetic = write_project(Path(tmp), size)
            for fmt in options.formats:
                record({"workloads": size, **run_child(synthetic, options.stack, fmt)})
            external_secrets = SECRETS_PER_WORKLOAD * size
            if {"cdk8s", "helm"} & set(options.peers):
                rendered = [o for o in preview_objects(synthetic, options.stack) if o["kind"] == "ExternalSecret"]
            if "cdk8s" in options.peers:
                record({"workloads": size, **yaml_process(Path(tmp), synthetic, options.stack, external_secrets)})
                record({"workloads": size, **cdk8s_peer(Path(tmp), rendered)})
            if "helm" in options.peers:
                record({"workloads": size, **helm_peer(Path(tmp), rendered)})
            if "engine" in options.peers:
                for row in engine_peer(Path(tmp), synthetic, external_secrets, options.engine_timeout):
                    record({"workloads": size, "external_secrets": external_secrets, **row})
    if options.json:
        summary = {"stack": options.stack, "runs": rows, "growth": growth(rows), "yaml_process_over_cdk8s": against_cdk8s(rows)}
        print(json.dumps(summary, indent=2))
    else:
        print("growth t(N_max)/t(N_prev): " + ", ".join(f"{k} {v:.1f}" for k, v in growth(rows).items()))
        if ratios := against_cdk8s(rows):
            print("yaml process / cdk8s synth: " + ", ".join(f"{n} workloads {v:.2f}" for n, v in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
