"""`ameide-secrets legacy import|compare`: migration off the legacy chart (legacy.py says what each does).

    ameide-secrets legacy import FILE… --team TEAM [--map MAP.yaml] [--rollout local] [--force]
    ameide-secrets legacy compare FILE… --stack STACK [--config-file F] [--format text|json]

`import` exits 1 when an object could not be imported (each named, nothing written for it); `compare`
exits 1 when an owned object differs from its legacy twin, or adopts one the chart does not hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from ameide_secrets import legacy
from ameide_secrets.cli import output
from ameide_secrets.rules import tenancy


def _import(options: argparse.Namespace) -> int:
    project = output.project(options)
    # The store every stack's ExternalSecrets read through, and the field a string ref reads, as the stacks have them.
    config = project.config(project.stack_names[0])
    plan = legacy.plan_import(
        legacy.load(Path(f) for f in options.files),
        options.team,
        options.rollout,
        legacy.mapping(options.map),
        config["ameide-secrets:storeName"],
        config["ameide-secrets:stringRefProperty"],
    )
    written = legacy.write(plan, project.root, options.force)
    for line in plan.refused:
        print(f"refused: {line}", file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    if written and (project.root / tenancy.REGISTRY_PATH).exists():
        print(f"updated {tenancy.REGISTRY_PATH}: namespaces, workloads and legacy entries, for the platform team's review")
    return output.FINDINGS if plan.refused else output.CLEAN


def _compare(options: argparse.Namespace) -> int:
    rows = legacy.compare_stack(output.stack(options), (Path(f) for f in options.files))
    if options.format == "json":
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        for row in rows:
            print(f"{row.status:22} {row.namespace}/{row.name}")
            for path, values in row.fields.items():
                print(f"    {path}: legacy {json.dumps(values['legacy'])}, owned {json.dumps(values['owned'])}")
            for path, values in row.expected.items():
                print(
                    f"    {path}: legacy {json.dumps(values['legacy'])}, owned {json.dumps(values['owned'])} "
                    "(expected: the migration moves it to the platform store)"
                )
    return output.FINDINGS if any(r.status == "differs" or (r.status == "new" and r.fields) for r in rows) else output.CLEAN


def parser() -> argparse.ArgumentParser:
    parser = output.verb_parser("legacy", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    importing = commands.add_parser("import", help="write team modules for the legacy objects")
    importing.add_argument("files", nargs="+")
    importing.add_argument("--team", required=True, help="the team folder under workloads/")
    importing.add_argument("--map", type=Path, help="MAP.yaml: namespace/name -> {team, workload}")
    importing.add_argument("--rollout", default="local", choices=["local", "staging", "production"])
    importing.add_argument("--force", action="store_true", help="replace existing modules")
    output.add_root(importing)
    comparing = commands.add_parser("compare", help="compare the legacy objects with what a stack owns")
    comparing.add_argument("files", nargs="+")
    output.add_stack(comparing)
    output.add_format(comparing)
    return parser


def main(argv: list[str]) -> int:
    options = parser().parse_args(argv)
    with output.failures() as failed:
        return _import(options) if options.command == "import" else _compare(options)
    assert failed
    return output.INVALID
