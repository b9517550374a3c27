"""Offline preview: run `__main__.py` for one stack under the Pulumi mock monitor, no CLI needed.

    python -m tools.preview --stack local [--format text|json|yaml] [--gate-base REV]
    python -m tools.preview [--stack STACK] --diff-against REV [--format text|markdown]

Exit codes: 0 rendered; 1 the declarations or stack settings are invalid, the rollout gate
refused, or a rendered object breaks the ESO CRD schema or a guardrail (one line per problem).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from declarations import inventory
from declarations.inventory import DeclarationErrors
from declarations.settings import PROJECT, SettingsError, StackSettings, stack_config, stack_names
from rendering import plan
from rendering.manifests import ANNOTATION_PATCH_FORCE
from rules import policies
from rules.gate import DEFAULT_ORGANIZATION, RolloutGateError, enforce, qualified
from tools import diff, manifest_yaml, revision
from tools.crd_schema import CrdSchemas

if TYPE_CHECKING:
    from tools.harness import Registration, RunResult


class ProgramError(Exception):
    """The program, run under mocks, stopped with a message for the user (Pulumi's RunError)."""


# Apply order for the YAML view: identities and admission policies before the store, the store before its users.
_KIND_ORDER = [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ClusterSecretStore",
    "ExternalSecret",
]


def sort_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kubernetes objects in apply order, then by namespace and name: a stable order to review."""

    def order(obj: dict[str, Any]) -> tuple[int, str, str]:
        kind = obj["kind"]
        rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
        meta = obj.get("metadata", {})
        return rank, meta.get("namespace", ""), meta.get("name", "")

    return sorted(objects, key=order)


def kubernetes_objects(result: RunResult) -> list[dict[str, Any]]:
    """Every Kubernetes object a program run applies, as sent to the API server, in a stable order."""
    return sort_objects(
        [r.inputs for r in result.resources if r.custom and r.type.startswith("kubernetes:") and "kind" in r.inputs]
    )


def render_yaml(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML of `objects`; sorted keys read as kubectl prints them and stay byte-stable."""
    return manifest_yaml.dump_all(objects)


def render_json(result: RunResult, environment: str) -> str:
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "custom": r.custom,
            "inputs": r.inputs,
            "protect": r.protect,
            "retainOnDelete": r.retain_on_delete,
            "dependsOn": sorted(r.depends_on),
            "provider": r.provider,
        }
        for r in sorted(result.resources, key=lambda r: r.urn)
    ]
    document = {
        "project": PROJECT,
        "stack": result.stack,
        "environment": environment,
        "resources": resources,
        "outputs": result.outputs,
    }
    return json.dumps(document, indent=2, sort_keys=True)


def _marks(r: Registration) -> str:
    """What a reviewer must notice about a resource: takeovers and protection."""
    marks = []
    if r.inputs.get("metadata", {}).get("annotations", {}).get(ANNOTATION_PATCH_FORCE) == "true":
        marks.append("adopts existing object")
    if r.protect:
        marks.append("protected")
    return f"  [{', '.join(marks)}]" if marks else ""


def render_text(result: RunResult) -> str:
    """A tree like `pulumi preview`'s, then how many objects of each kind."""
    children: dict[str, list[Registration]] = {}
    for r in result.resources:
        children.setdefault(r.parent, []).append(r)
    stack_urn = f"urn:pulumi:{result.stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{result.stack}"
    lines = [f"{PROJECT}-{result.stack} (pulumi:pulumi:Stack)"]

    def walk(urn: str, indent: str) -> None:
        # Registration order is concurrent; sort so two previews of one stack read the same.
        kids = sorted(children.get(urn, []), key=lambda r: (r.type, r.name))
        for i, r in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(f"{indent}{'└─ ' if last else '├─ '}{r.type}  {r.name}{_marks(r)}")
            walk(r.urn, indent + ("   " if last else "│  "))

    walk(stack_urn, "")
    counts = Counter(obj["kind"] for obj in kubernetes_objects(result))
    lines.append("")
    lines.append("Kubernetes objects: " + ", ".join(f"{counts[k]} {k}" for k in sorted(counts)))
    lines.append("Outputs:")
    for key, value in result.outputs.items():
        lines.append(f"  {key}: {json.dumps(value, sort_keys=True)}")
    return "\n".join(lines)


GATE = f"{PROJECT}:rolloutGate"
GATE_STACK = f"{PROJECT}:rolloutGateStack"


def gate_unchecked(stack: str, gate_base: str | None) -> bool:
    """Whether `stack` has a rollout gate that this offline run cannot check (no --gate-base)."""
    return gate_base is None and stack_config(stack).get(GATE) == "true"


def _upstream_outputs(config: dict[str, str], gate_base: str | None) -> dict[str, dict[str, Any]]:
    """What the rollout gate's StackReference reads: the upstream stack as rendered at `gate_base`."""
    if config.get(GATE) != "true" or gate_base is None:
        return {}
    upstream = qualified(config[GATE_STACK], DEFAULT_ORGANIZATION, PROJECT)
    return {upstream: revision.stack_outputs_at(gate_base, upstream.rsplit("/", 1)[-1])}


def preview(stack: str, gate_base: str | None = None, one_shot: bool = False) -> RunResult:
    """Run the program for `stack` with its stack file and Pulumi.yaml defaults, under mocks.

    A rollout gate reads the upstream stack as rendered at git revision `gate_base` (what is
    deployed); without it there is no backend to read, and the gate is switched off. `one_shot`:
    the process ends after this preview (harness.run).
    """
    config = stack_config(stack)
    upstream = _upstream_outputs(config, gate_base)
    if gate_base is None:
        config[GATE] = "false"
    # The Pulumi SDK: only the text and json views run the program, so only they import it.
    import pulumi

    from tools import harness

    try:
        return harness.run_main(stack, config, upstream, one_shot=one_shot)
    except pulumi.RunError as error:  # what the program reports to the user: a declaration, setting or gate
        raise ProgramError(str(error)) from None


def plan_objects(stack: str, gate_base: str | None = None) -> list[dict[str, Any]]:
    """The Kubernetes objects of `stack` from the pure plan, without a Pulumi run (the YAML view).

    Applies the same checks the program makes: settings, declarations and the rollout gate.
    """
    settings = StackSettings.for_stack(stack)
    owned = inventory.owned(inventory.discover(), settings.environment)
    for upstream, outputs in _upstream_outputs(stack_config(stack), gate_base).items():
        enforce(inventory.modules(owned), upstream, outputs.get("ownedWorkloads"))
    return sort_objects(plan.stack_manifests(settings, owned))


@functools.cache
def _crds() -> CrdSchemas:
    return CrdSchemas()  # compiling the ESO validators takes a while: once per process


def verify(objects: list[dict[str, Any]], stack: str, timings: dict[str, float] | None = None) -> list[policies.Violation]:
    """What review would refuse in `objects`: ESO CRD schema errors, then guardrail violations."""
    timings = {} if timings is None else timings
    config = stack_config(stack)
    with _phase(timings, "schema"):
        violations = [
            policies.Violation("eso-crd-schema", policies.resource_id(obj), error)
            for obj in objects
            for error in _crds().errors(obj)
        ]
    with _phase(timings, "policy"):
        violations += policies.check(
            objects, store_name=config[f"{PROJECT}:storeName"], eso_namespace=config[f"{PROJECT}:esoNamespace"]
        )
    return violations


@contextlib.contextmanager
def _phase(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


@dataclass
class Rendered:
    """One preview: its output, the objects it covers and what review refuses in them."""

    output: str
    objects: list[dict[str, Any]]
    violations: list[policies.Violation]


def render(
    stack: str, fmt: str, gate_base: str | None = None, timings: dict[str, float] | None = None, one_shot: bool = False
) -> Rendered:
    """The preview of `stack` in `fmt`, phase by phase into `timings` (as tools/bench.py reports them).

    YAML comes from the pure plan; JSON and text run the whole program under the mock monitor,
    since they show resource options (protect, provider, dependsOn) only a Pulumi run produces.
    """
    timings = {} if timings is None else timings
    result = None
    if fmt == "yaml":
        with _phase(timings, "plan"):
            objects = plan_objects(stack, gate_base)
    else:
        with _phase(timings, "program"):
            result = preview(stack, gate_base, one_shot)
            objects = kubernetes_objects(result)
    violations = verify(objects, stack, timings)
    with _phase(timings, "output"):
        if violations:
            output = ""
        elif result is None:
            output = render_yaml(objects)
        elif fmt == "json":
            output = render_json(result, str(result.outputs.get("environment", ""))) + "\n"
        else:
            output = render_text(result) + "\n"
    return Rendered(output, objects, violations)


def diff_against(base: str, stacks: list[str], fmt: str) -> str:
    """What the working tree changes in `stacks` compared with git revision `base`."""
    diffs = []
    for stack in stacks:
        before = json.loads(revision.preview_at(base, stack, "json"))
        result = preview(stack)
        after = json.loads(render_json(result, str(result.outputs.get("environment", ""))))
        diffs.append(diff.diff(stack, before, after))
    return diff.render_markdown(diffs) if fmt == "markdown" else diff.render_text(diffs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="stack name (Pulumi.<stack>.yaml); with --diff-against, every stack when omitted")
    parser.add_argument(
        "--format", choices=["text", "json", "yaml", "markdown"], default="text", help="markdown: --diff-against only"
    )
    parser.add_argument(
        "--gate-base",
        metavar="REV",
        help="git revision whose upstream stack is deployed (e.g. the PR's base branch); checks the rollout gate against it",
    )
    parser.add_argument(
        "--diff-against",
        metavar="REV",
        help="print what changed since git revision REV (added/removed/changed objects, changed fields only)",
    )
    options = parser.parse_args(argv)
    if options.diff_against is None and options.stack is None:
        parser.error("--stack is required (unless --diff-against)")
    if options.format == "markdown" and options.diff_against is None:
        parser.error("--format markdown goes with --diff-against")
    try:
        if options.diff_against is not None:
            print(diff_against(options.diff_against, [options.stack] if options.stack else stack_names(), options.format))
            return 0
        rendered = render(options.stack, options.format, options.gate_base, one_shot=True)
    except (DeclarationErrors, SettingsError, RolloutGateError, ProgramError, revision.RevisionError, FileNotFoundError) as error:
        print(str(error), file=sys.stderr)
        return 1
    if rendered.violations:
        print("\n".join(str(v) for v in rendered.violations), file=sys.stderr)
        return 1
    if gate_unchecked(options.stack, options.gate_base):
        print(
            f"note: the rollout gate of stack {options.stack} was NOT checked (no backend offline); "
            "pass --gate-base REV to check it against the upstream stack at REV",
            file=sys.stderr,
        )
    sys.stdout.write(rendered.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
