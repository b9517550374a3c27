"""Benchmark the offline preview at ameide's scale and beyond.

    python -m tools.bench [--sizes 10 100 1000] [--stack production] [--formats yaml json text] [--json]

For each size N it writes N synthetic but realistic workloads (3 ExternalSecrets each, 5 data
entries each, string / RemoteRef / camelCase-dict refs mixed, 20 namespaces, 10 teams) into a
temporary directory, then runs the offline preview end to end in a fresh process per format
(discovery and validation, rendering, ESO CRD schema and policy checks, output) and reports
wall time, time per phase, time per ExternalSecret and peak memory. Beside it, the floor: the
same manifests as plain dicts dumped with libyaml's CSafeDumper. The repository is not touched.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from components.settings import ROOT

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


def write_workloads(directory: Path, count: int) -> Path:
    """A `workloads/` tree of `count` synthetic modules under `directory`, and the access registry granting them."""
    root = directory / "workloads"
    teams: dict[str, set[str]] = {}
    for index in range(count):
        relative, source = workload_module(index)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        teams.setdefault(f"team-{index % TEAMS}", set()).add(f"ns-{index % NAMESPACES}")
    registry = {"teams": {team: {"namespaces": sorted(ns), "key_prefixes": []} for team, ns in teams.items()}, "legacy": []}
    (directory / "platform").mkdir(exist_ok=True)
    (directory / "platform" / "tenants.yaml").write_text(yaml.safe_dump(registry))
    return root


def measure(workloads: Path, stack: str, fmt: str) -> dict[str, Any]:
    """One preview run in this process, phase by phase (run it in a fresh process)."""
    from components import inventory
    from tools import preview

    inventory.WORKLOADS_DIR = workloads
    timings: dict[str, float] = {}
    start = time.perf_counter()
    rendered = preview.render(stack, fmt, timings=timings)
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


def run_child(workloads: Path, stack: str, fmt: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--child", str(workloads), stack, fmt],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench child ({fmt}) failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def table(rows: list[dict[str, Any]]) -> str:
    header = f"{'N':>5} {'ES':>5} {'format':<6} {'wall s':>7} {'ms/ES':>6} {'peak MiB':>8} {'floor s':>7}  phases (s)"
    lines = [header, "-" * len(header)]
    for r in rows:
        phases = ", ".join(f"{k} {v:.3f}" for k, v in r["phases_s"].items())
        lines.append(
            f"{r['workloads']:>5} {r['external_secrets']:>5} {r['format']:<6} {r['wall_s']:>7.3f} "
            f"{r['per_external_secret_ms']:>6.3f} {r['peak_mib']:>8.1f} {r['floor_s']:>7.3f}  {phases}"
        )
    return "\n".join(lines)


def growth(rows: list[dict[str, Any]]) -> dict[str, float]:
    """t(largest N) / t(previous N) per format: linear growth keeps it near the size ratio."""
    by_format: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_format.setdefault(r["format"], []).append(r)
    return {fmt: runs[-1]["wall_s"] / runs[-2]["wall_s"] for fmt, runs in by_format.items() if len(runs) >= 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--stack", default="production")
    parser.add_argument("--formats", nargs="+", default=["yaml", "json", "text"], choices=["yaml", "json", "text"])
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.add_argument("--child", nargs=3, metavar=("WORKLOADS", "STACK", "FORMAT"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        print(json.dumps(measure(Path(options.child[0]), options.child[1], options.child[2])))
        return 0
    rows = []
    for size in options.sizes:
        with tempfile.TemporaryDirectory(prefix="ameide-bench-") as tmp:
            workloads = write_workloads(Path(tmp), size)
            rows += [{"workloads": size, **run_child(workloads, options.stack, fmt)} for fmt in options.formats]
    if options.json:
        print(json.dumps({"stack": options.stack, "runs": rows, "growth": growth(rows)}, indent=2))
    else:
        print(table(rows))
        print("growth t(N_max)/t(N_prev): " + ", ".join(f"{k} {v:.1f}" for k, v in growth(rows).items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
