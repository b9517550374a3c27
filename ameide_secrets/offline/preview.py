"""The offline preview of a stack, from a Project: the program under Pulumi's mock monitor (text, json) or
the Stack's objects (yaml), checked against the ESO CRD schemas and the guardrails; and the per-stack diff
against a git revision. No Pulumi CLI, cluster or Vault. `ameide-secrets preview` and `diff` print it."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ameide_secrets.declare.settings import PROJECT
from ameide_secrets.findings import Finding, InputError
from ameide_secrets.lineage import blast
from ameide_secrets.lineage.chain import Lineage
from ameide_secrets.offline import diff, manifest_yaml, revision
from ameide_secrets.offline.crd_schema import CrdSchemas, crds_dir
from ameide_secrets.project import Project
from ameide_secrets.rules import guardrails
from ameide_secrets.rules.gate import DEFAULT_ORGANIZATION, enforce, qualified
from ameide_secrets.vocabulary import ANNOTATION_PATCH_FORCE, ANNOTATION_ROTATE_WITHIN

if TYPE_CHECKING:
    from ameide_secrets.offline.harness import Registration, RunResult


class ProgramError(InputError):
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
    """What a reviewer must notice about a resource: takeovers, protection, whole-secret reads, rotation bounds."""
    marks = []
    annotations = r.inputs.get("metadata", {}).get("annotations", {})
    if annotations.get(ANNOTATION_PATCH_FORCE) == "true":
        marks.append("adopts existing object")
    if r.protect:
        marks.append("protected")
    # A `data` ref without property gets every field of the Vault secret as one JSON value.
    whole = [d["secretKey"] for d in (r.inputs.get("spec") or {}).get("data", []) if "property" not in d.get("remoteRef", {})]
    if whole:
        marks.append(f"whole secret as JSON: {', '.join(whole)}")
    if ANNOTATION_ROTATE_WITHIN in annotations:
        marks.append(f"rotate within {annotations[ANNOTATION_ROTATE_WITHIN]}")
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


def gate_unchecked(project: Project, stack: str, gate_base: str | None) -> bool:
    """Whether `stack` has a rollout gate that this offline run cannot check (no --gate-base)."""
    return gate_base is None and project.config(stack).get(GATE) == "true"


def _upstream_outputs(project: Project, config: dict[str, str], gate_base: str | None) -> dict[str, dict[str, Any]]:
    """What the rollout gate's StackReference reads: the upstream stack as rendered at `gate_base`."""
    if config.get(GATE) != "true" or gate_base is None:
        return {}
    upstream = qualified(config[GATE_STACK], DEFAULT_ORGANIZATION, PROJECT)
    return {upstream: revision.stack_outputs_at(project.root, gate_base, upstream.rsplit("/", 1)[-1])}


def preview(project: Project, stack: str, gate_base: str | None = None, one_shot: bool = False) -> RunResult:
    """Run the program for `stack` with its stack file and Pulumi.yaml defaults, under mocks.

    A rollout gate reads the upstream stack as rendered at git revision `gate_base` (what is
    deployed); without it there is no backend to read, and the gate is switched off. `one_shot`:
    the process ends after this preview (harness.run).
    """
    config = project.config(stack)
    upstream = _upstream_outputs(project, config, gate_base)
    if gate_base is None:
        config[GATE] = "false"
    # The Pulumi SDK: only the text and json views run the program, so only they import it.
    import pulumi

    from ameide_secrets.offline import harness

    try:
        return harness.run_main(project.root / "__main__.py", stack, config, upstream, one_shot=one_shot)
    except pulumi.RunError as error:  # what the program reports to the user: a declaration, setting or gate
        raise ProgramError(str(error)) from None


def plan_objects(project: Project, stack: str, gate_base: str | None = None) -> list[dict[str, Any]]:
    """The Kubernetes objects of `stack` from its Stack, without a Pulumi run (the YAML view).

    Applies the same checks the program makes: settings, declarations and the rollout gate.
    """
    computed = project.stack(stack)
    for upstream, outputs in _upstream_outputs(project, computed.config, gate_base).items():
        enforce(computed.modules, upstream, outputs.get("ownedWorkloads"))
    return sort_objects(computed.manifests)


@functools.cache
def _crds(root: Path) -> CrdSchemas:
    return CrdSchemas(crds_dir(root))  # compiling the ESO validators takes a while: once per process


def verify(
    project: Project, objects: list[dict[str, Any]], config: dict[str, str], timings: dict[str, float] | None = None
) -> list[Finding]:
    """What review would refuse in `objects` of a stack with `config`: ESO CRD schema errors, then guardrail violations."""
    timings = {} if timings is None else timings
    with _phase(timings, "schema"):
        violations = [
            Finding(error, object=guardrails.resource_id(obj), rule="eso-crd-schema")
            for obj in objects
            for error in _crds(project.root).errors(obj)
        ]
    with _phase(timings, "policy"):
        violations += guardrails.check(
            objects,
            store_name=config[f"{PROJECT}:storeName"],
            eso_namespace=config[f"{PROJECT}:esoNamespace"],
            refresh_interval_floor=config[f"{PROJECT}:refreshIntervalFloor"],
            registry=project.registry,
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
    violations: list[Finding]


def render(
    project: Project,
    stack: str,
    fmt: str,
    gate_base: str | None = None,
    timings: dict[str, float] | None = None,
    one_shot: bool = False,
) -> Rendered:
    """The preview of `stack` in `fmt`, phase by phase into `timings` (as lab/bench.py reports them).

    YAML comes from the Stack's objects; JSON and text run the whole program under the mock monitor,
    since they show resource options (protect, provider, dependsOn) only a Pulumi run produces.
    """
    timings = {} if timings is None else timings
    result = None
    if fmt == "yaml":
        with _phase(timings, "plan"):
            objects = plan_objects(project, stack, gate_base)
    else:
        with _phase(timings, "program"):
            result = preview(project, stack, gate_base, one_shot)
            objects = kubernetes_objects(result)
    violations = verify(project, objects, project.config(stack), timings)
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


def diff_against(
    project: Project,
    base: str,
    stacks: list[str],
    fmt: str,
    lineages: Sequence[Lineage] = (),
    allow_breaking: bool = False,
) -> tuple[str, int]:
    """What the working tree changes in `stacks` compared with git revision `base`, and how many of its removed
    Secret keys a container still reads (from `lineages`, one per stack at most: lineage/blast.py)."""
    known = blast.by_stack(lineages, stacks)
    diffs = []
    for stack in stacks:
        before = json.loads(revision.preview_at(project.root, base, stack, "json"))
        result = preview(project, stack)
        after = json.loads(render_json(result, str(result.outputs.get("environment", ""))))
        stack_diff = diff.diff(stack, before, after)
        if stack in known:
            stack_diff.impacts = blast.impacts(before, after, known[stack])
        diffs.append(stack_diff)
    breaking = sum(len(d.breaking) for d in diffs)
    if fmt == "markdown":
        return diff.render_markdown(diffs, allow_breaking=allow_breaking), breaking
    return diff.render_text(diffs, allow_breaking=allow_breaking), breaking
