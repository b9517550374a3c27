"""Worst-case time and memory of the team-module reader over hostile modules at its bounds.

    python -m lab.bench_reader [--repeat 5] [--json]

Each input is as large as the bounds let it be (MAX_MODULE_BYTES, lines of MAX_LINE_LENGTH, nesting
at MAX_DEPTH, chains at MAX_OPERATORS, values up to MAX_CELLS) and is written to a temporary file, then
read with `team_module.read_file` as `discover` reads a module. Reported per input: the median of
`--repeat` runs (the machine's noise aside), the peak of memory allocated while reading it (tracemalloc,
in a run of its own: tracing slows the reader down) and what the reader said; at the end the maximum of
each and the process's peak resident memory. docs/security.md ("The reader's bounds") records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ameide_secrets.declare import team_module as tm

HEADER = "from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs\n"


def _fill(line: str, header: str = HEADER, footer: str = "") -> str:
    """`header`, then `line` as often as fits in MAX_MODULE_BYTES with `footer`."""
    room = tm.MAX_MODULE_BYTES - len(header.encode()) - len(footer.encode())
    return header + line * (room // len(line.encode())) + footer


def _list_of(entry: str) -> str:
    """One list of `entry` as long as the file allows, wrapped at MAX_LINE_LENGTH."""
    per_line = entry * ((tm.MAX_LINE_LENGTH - 1) // len(entry)) + "\n"
    return _fill(per_line, HEADER + "X = [\n", "]\n")


def _valid_workload() -> str:
    """A valid declaration near the bounds: as many ExternalSecrets as fit, each with two keys."""
    workload = (
        'WORKLOAD = WorkloadSecretsArgs(workload="plausible", team="analytics", namespace="ameide", '
        'rollout="local", external_secrets=SPECS)\n'
    )
    spec = (
        '    ExternalSecretSpec(name="plausible-{0}", data={{"A": "plausible/{0}/a", "B": RemoteRef(key="plausible/{0}/b")}}),\n'
    )
    room = tm.MAX_MODULE_BYTES - len(HEADER + "SPECS = [\n]\n" + workload)
    specs: list[str] = []
    while len(specs) < tm.MAX_ENTRIES and (room := room - len(spec.format(len(specs)))) >= 0:
        specs.append(spec.format(len(specs)))
    return HEADER + "SPECS = [\n" + "".join(specs) + "]\n" + workload


def _cells() -> str:
    """Values reused up to MAX_CELLS: each line costs as much as the bound allows without doubling."""
    big = "S = '" + "a" * (tm.MAX_STRING_LENGTH - 8) + "'\n"
    reuse = "X = [" + ", ".join(["S"] * 40) + "]\n"
    return _fill(reuse, HEADER + big)


def _depth() -> str:
    """Nesting at MAX_DEPTH on every line (lists, calls and f-string fields)."""
    nested = "[" * (tm.MAX_DEPTH - 2) + "RemoteRef(key=f'{A}')" + "]" * (tm.MAX_DEPTH - 2)
    return _fill(f"X = {nested}\n", HEADER + "A = 'plausible/a'\n")


def _chains() -> str:
    """Chains of MAX_OPERATORS `+`, filling the file."""
    terms = "(" + " + ".join(["A"] * tm.MAX_OPERATORS) + ")"
    return _fill(f"X = {terms}\n", HEADER + "A = 'a'\n")


INPUTS: dict[str, Callable[[], bytes]] = {
    "arbitrary bytes": lambda: random.Random(0).randbytes(tm.MAX_MODULE_BYTES),
    "non-UTF-8 at the end": lambda: _fill("X = 1\n").encode()[:-1] + b"\xff",
    "too large by one byte": lambda: b"#" * (tm.MAX_MODULE_BYTES + 1),
    "most tokens (a list of 1)": lambda: _list_of("1,").encode(),
    "most names (a list of names)": lambda: _list_of("A,").encode(),
    "most statements refused": lambda: _fill("import os\n").encode(),
    "most duplicate keys": lambda: _fill("'k': 1,\n", HEADER + "X = {\n", "}\n").encode(),
    "nesting at the bound": lambda: _depth().encode(),
    "operator chains at the bound": lambda: _chains().encode(),
    "reuse up to the cells bound": lambda: _cells().encode(),
    "doubling (the cells bound)": lambda: (
        HEADER + "A0 = ['x']\n" + "".join(f"A{i} = [A{i - 1}, A{i - 1}]\n" for i in range(1, 60))
    ).encode(),
    "longest f-strings": lambda: _fill("X = f'" + "{A}" * ((tm.MAX_LINE_LENGTH - 8) // 3) + "'\n", HEADER + "A = 'a'\n").encode(),
    "one long docstring": lambda: _fill("a\n", '"""', '"""\n').encode(),
    "a plus chain filling the file": lambda: _fill("'a' +\n", HEADER + "X = (\n", "'a')\n").encode(),
    "valid: the most ExternalSecrets": lambda: _valid_workload().encode(),
}


def measure(data: bytes, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.py"
        path.write_bytes(data)
        seconds = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = tm.read_file(path, "m.py")
            seconds.append(time.perf_counter() - start)
        tracemalloc.start()
        tm.read_file(path, "m.py")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    found = result.line_problems + result.field_problems
    said = "a declaration" if result.workload is not None else f"{len(found)} findings: {found[0].message}"
    return {"bytes": len(data), "median_s": statistics.median(seconds), "peak_mib": peak / 2**20, "said": said[:90]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per input; their median is reported")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = {name: measure(make(), args.repeat) for name, make in INPUTS.items()}
    summary = {
        "max_s": max(row["median_s"] for row in rows.values()),
        "max_peak_mib": max(row["peak_mib"] for row in rows.values()),
        # ru_maxrss is in KiB on Linux
        "process_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps({"inputs": rows, "summary": summary}, indent=2))
        return 0
    print(f"{'input':32} {'bytes':>8} {'s':>7} {'peak MiB':>9}  what the reader said")
    for name, row in rows.items():
        print(f"{name:32} {row['bytes']:>8} {row['median_s']:>7.3f} {row['peak_mib']:>9.1f}  {row['said']}")
    print(
        f"at most {summary['max_s']:.3f} s and {summary['max_peak_mib']:.1f} MiB allocated per input; "
        f"process peak RSS {summary['process_peak_rss_mib']:.0f} MiB (Python {summary['python']}, {summary['cpus']} CPUs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
