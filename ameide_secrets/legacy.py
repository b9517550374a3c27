"""Migration off the legacy chart: import its ExternalSecrets as team modules, and compare against it.

    ameide-secrets legacy import FILE… --team TEAM [--map MAP.yaml] [--rollout local] [--force]
    ameide-secrets legacy compare FILE… --stack STACK [--format text|json]

FILE is Kubernetes YAML holding the legacy objects: `helm template` output or
`kubectl get externalsecrets -A -o yaml` (a List), `external-secrets.io/v1beta1` and `v1` alike.

`import` writes one module per workload under `workloads/<team>/` — the workload is the common
first key segment (the Vault prefix) unless MAP.yaml (`namespace/name: {team, workload}`) says
otherwise — with the same names, namespaces, targets, types, refresh intervals, data and dataFrom,
`adopt=True`; and grants the team's namespaces and lists the adopted objects in
`platform/tenants.yaml` for the platform's review. What this program cannot express is refused,
naming the object and the field, and nothing is written for it.

`compare` puts every legacy object beside the ExternalSecret the stack owns of the same namespace
and name, after applying ESO's defaults to both: `same`, `differs` (each field path with both
values), `legacy-only` (still served by the chart) or `new` (not in the chart). Exit 1 when an owned
object differs from its legacy twin, or adopts one the chart does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ameide_secrets import vocabulary
from ameide_secrets.declare import inventory, team_module
from ameide_secrets.findings import InputError
from ameide_secrets.project import Stack
from ameide_secrets.rules import stores, tenancy

_SNAKE = {
    "decodingStrategy": "decoding_strategy",
    "conversionStrategy": "conversion_strategy",
    "metadataPolicy": "metadata_policy",
}


class LegacyError(InputError):
    """Input that cannot be read at all (a file, the map)."""


@dataclass
class Imported:
    """One legacy ExternalSecret as a declaration, or why it cannot be one."""

    namespace: str
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    """ExternalSecretSpec keyword arguments."""
    problems: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every ExternalSecret in the files, Lists flattened, other kinds skipped."""
    found: list[dict[str, Any]] = []
    for path in paths:
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as error:
            raise LegacyError(f"{path}: cannot read it as YAML: {error}") from None
        for document in documents:
            for item in (document or {}).get("items", [document]) if isinstance(document, dict) else []:
                if isinstance(item, dict) and item.get("kind") == vocabulary.EXTERNAL_SECRET and vocabulary.is_eso(item):
                    found.append(item)
    return found


def _ref(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k in vocabulary.REF_FIELDS and v is not None}


def to_declaration(obj: dict[str, Any], store_name: str) -> Imported:
    """The ExternalSecretSpec arguments that render `obj`, or the fields that cannot be expressed."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    item = Imported(meta.get("namespace") or "", meta.get("name") or "")
    problem = item.problems.append
    if not item.namespace:
        problem("metadata.namespace is missing (render the chart with its namespace, or export with kubectl -A)")
    store = spec.get("secretStoreRef") or {}
    if not stores.is_platform(store, store_name):
        problem(
            f"spec.secretStoreRef is {stores.ref_kind(store)} {store.get('name')!r}: this program reads only "
            f"through ClusterSecretStore {store_name!r} (move the keys behind that store first)"
        )
    target = spec.get("target") or {}
    template = target.get("template") or {}
    for unsupported in ("data", "templateFrom"):
        if template.get(unsupported):
            problem(
                f"spec.target.template.{unsupported} is not modelled: a template rewrites values (declare plain keys instead)"
            )
    for unsupported in ("refreshPolicy",):
        if spec.get(unsupported):
            problem(f"spec.{unsupported} is not modelled (remove it from the chart first)")
    args: dict[str, Any] = {"name": item.name}
    if target.get("name") and target["name"] != item.name:
        args["target"] = target["name"]
    if template.get("type") and template["type"] != vocabulary.DEFAULT_SECRET_TYPE:
        args["type"] = template["type"]
    args["refresh_interval"] = spec.get("refreshInterval") or vocabulary.DEFAULT_REFRESH_INTERVAL
    for name, default, arg in (
        ("creationPolicy", vocabulary.DEFAULT_CREATION_POLICY, "creation_policy"),
        ("deletionPolicy", vocabulary.DEFAULT_DELETION_POLICY, "deletion_policy"),
    ):
        if target.get(name, default) != default:
            args[arg] = target[name]
    for source, arg in (("labels", "labels"), ("annotations", "annotations")):
        if (template.get("metadata") or {}).get(source):
            args[arg] = dict(template["metadata"][source])
    data: dict[str, Any] = {}
    for i, entry in enumerate(spec.get("data") or []):
        if entry.get("sourceRef"):
            problem(f"spec.data[{i}].sourceRef (another store or a generator) is not modelled")
            continue
        data[entry.get("secretKey", "")] = _ref(entry.get("remoteRef") or {})
    data_from = []
    for i, entry in enumerate(spec.get("dataFrom") or []):
        for unsupported in ("find", "sourceRef", "rewrite"):
            if entry.get(unsupported):
                problem(f"spec.dataFrom[{i}].{unsupported} is not modelled (list each key in data_from instead)")
        if entry.get("extract"):
            data_from.append(_ref(entry["extract"]))
    if data:
        args["data"] = data
    if data_from:
        args["data_from"] = data_from
    for ref in [*data.values(), *data_from]:
        key = ref.get("key", "")
        if "/" not in key:
            problem(
                f"key {key!r} has no prefix: every key of a workload lives under '<workload>/' (copy it in Vault, e.g. "
                f"`vault kv get -format=json secret/{key}` then `vault kv put secret/<workload>/{key} …`, and update the chart)"
            )
    item.spec = args
    return item


def prefixes(item: Imported) -> set[str]:
    refs = [*(item.spec.get("data") or {}).values(), *(item.spec.get("data_from") or [])]
    return {ref["key"].split("/", 1)[0] for ref in refs if "/" in ref.get("key", "")}


# --- writing modules -----------------------------------------------------------------------------


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _ref_source(ref: dict[str, Any], string_property: str) -> str:
    """The module's spelling of a legacy ref that renders it unchanged: the string form only where it reads
    the field the string form reads (`string_property`); a ref without property stays a whole-secret read."""
    extra = {k: v for k, v in ref.items() if k != "key" and v != vocabulary.REF_DEFAULTS.get(k)}
    if extra == {"property": string_property}:
        return _literal(ref["key"])
    arguments = ", ".join([f"key={_literal(ref['key'])}", *(f"{_SNAKE.get(k, k)}={_literal(v)}" for k, v in extra.items())])
    return f"RemoteRef({arguments})"


def _extract_source(ref: dict[str, Any]) -> str:
    extra = {k: v for k, v in ref.items() if k != "key" and v != vocabulary.REF_DEFAULTS.get(k)}
    return _literal(ref["key"]) if not extra else _ref_source(ref, string_property="")


def module_source(workload: str, team: str, namespace: str, rollout: str, items: list[Imported], string_property: str) -> str:
    """A team module, formatted like the hand-written ones."""
    lines = [
        f'"""{workload}: its secrets, imported from the legacy vault-secrets chart by ameide-secrets legacy import (adopted in place)."""',
        "",
        "from components import ExternalSecretSpec, RemoteRef, WorkloadSecretsArgs",
        "",
        "WORKLOAD = WorkloadSecretsArgs(",
        f"    workload={_literal(workload)},",
        f"    team={_literal(team)},",
        f"    namespace={_literal(namespace)},",
        f"    rollout={_literal(rollout)},",
        "    # Taken over from the legacy chart in place (docs/migration.md); drop once the chart no longer has it.",
        "    adopt=True,",
        "    external_secrets=[",
    ]
    for item in sorted(items, key=lambda i: i.name):
        lines.append("        ExternalSecretSpec(")
        for name, value in item.spec.items():
            if name == "data":
                lines.append("            data={")
                lines += [f"                {_literal(key)}: {_ref_source(ref, string_property)}," for key, ref in value.items()]
                lines.append("            },")
            elif name == "data_from":
                # An extract reads every field whatever its spelling: the plain key unless it sets more.
                lines.append(f"            data_from=[{', '.join(_extract_source(ref) for ref in value)}],")
            else:
                lines.append(f"            {name}={_literal(value)},")
        lines.append("        ),")
    lines += ["    ],", ")", ""]
    return "\n".join(lines)


@dataclass
class Plan:
    """What `import` would write: module path -> source, the registry grants, and every refusal."""

    modules: dict[Path, str] = field(default_factory=dict)
    namespaces: dict[str, set[str]] = field(default_factory=dict)
    """Team -> the namespaces its imported workloads live in."""
    workloads: dict[str, set[str]] = field(default_factory=dict)
    """Team -> the workloads imported for it."""
    legacy: dict[str, str] = field(default_factory=dict)
    """`namespace/name` of each imported legacy object -> the team that adopts it."""
    refused: list[str] = field(default_factory=list)


def plan_import(
    objects: list[dict[str, Any]],
    team: str,
    rollout: str,
    mapping: dict[str, dict[str, str]],
    store_name: str,
    string_property: str,
) -> Plan:
    """The modules, registry additions and refusals for `objects`; `store_name` and `string_property` are the
    stacks' `storeName` and `stringRefProperty` (the field a string ref reads)."""
    plan = Plan()
    groups: dict[tuple[str, str], list[Imported]] = {}
    for obj in objects:
        item = to_declaration(obj, store_name)
        mapped = mapping.get(item.where, {})
        found = prefixes(item)
        if not item.problems and not mapped.get("workload") and len(found) != 1:
            item.problems.append(f"its keys are under {sorted(found)}: no single workload prefix (name the workload in --map)")
        if item.problems:
            plan.refused += [f"ExternalSecret {item.where}: {p}" for p in item.problems]
            continue
        workload = mapped.get("workload") or next(iter(found))
        groups.setdefault((mapped.get("team") or team, workload), []).append(item)
    for (owner, workload), items in sorted(groups.items()):
        namespaces = {i.namespace for i in items}
        if len(namespaces) != 1:
            plan.refused.append(
                f"workload {workload}: its ExternalSecrets are in {sorted(namespaces)}; one workload, one namespace (split it with --map)"
            )
            continue
        [namespace] = namespaces
        source = module_source(workload, owner, namespace, rollout, items, string_property)
        data = team_module.read(source, workload)
        if data.workload is None:
            problems = [p.message for p in data.line_problems] + [f"{p.field}: {p.message}" for p in data.field_problems]
            plan.refused += [f"workload {workload}: {p}" for p in problems]
            continue
        plan.modules[Path("workloads") / owner / inventory.module_name(workload)] = source
        plan.namespaces.setdefault(owner, set()).add(namespace)
        plan.workloads.setdefault(owner, set()).add(workload)
        plan.legacy.update({i.where: owner for i in items})
    return plan


def update_registry(path: Path, plan: Plan) -> None:
    """Write the grants `plan` needs (namespaces, workloads, the adopted objects and their team) for the
    platform team to review, keeping the file's header comment."""
    text = path.read_text()
    header = "".join(line for line in text.splitlines(keepends=True)[: _header_lines(text)])
    document = yaml.safe_load(text) or {}
    teams = document.setdefault("teams", {})
    for team in plan.namespaces.keys() | plan.workloads.keys():
        entry = teams.setdefault(team, {})
        entry["namespaces"] = sorted(set(entry.get("namespaces") or []) | plan.namespaces.get(team, set()))
        entry["workloads"] = sorted(set(entry.get("workloads") or []) | plan.workloads.get(team, set()))
    document["legacy"] = {**(document.get("legacy") or {}), **plan.legacy}
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))


def _header_lines(text: str) -> int:
    lines = text.splitlines()
    return next((i for i, line in enumerate(lines) if line and not line.startswith("#")), len(lines))


# --- compare --------------------------------------------------------------------------------------


def compared(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields compared, by path, with ESO's defaults applied (labels and annotations are each side's own;
    a template's data or templateFrom and an extract's rewrite, which change values, are compared too)."""
    spec, name = obj.get("spec") or {}, (obj.get("metadata") or {}).get("name")
    target = spec.get("target") or {}
    template = target.get("template") or {}
    store = spec.get("secretStoreRef") or {}
    view: dict[str, Any] = {
        "spec.secretStoreRef": f"{stores.ref_kind(store)} {store.get('name')}",
        "spec.refreshInterval": spec.get("refreshInterval") or vocabulary.DEFAULT_REFRESH_INTERVAL,
        "spec.target.name": target.get("name") or name,
        "spec.target.creationPolicy": target.get("creationPolicy", vocabulary.DEFAULT_CREATION_POLICY),
        "spec.target.deletionPolicy": target.get("deletionPolicy", vocabulary.DEFAULT_DELETION_POLICY),
        "spec.target.template.type": template.get("type", vocabulary.DEFAULT_SECRET_TYPE),
    }
    # What rewrites values: never rendered by this program, so a legacy object holding one always differs.
    for rewriting in ("data", "templateFrom"):
        if template.get(rewriting):
            view[f"spec.target.template.{rewriting}"] = template[rewriting]
    for entry in spec.get("data") or []:
        ref = {**vocabulary.REF_DEFAULTS, **_ref(entry.get("remoteRef") or {})}
        for key in ("key", "property", "version", *vocabulary.REF_DEFAULTS):
            view[f"spec.data[{entry.get('secretKey')}].remoteRef.{key}"] = ref.get(key)
    for i, entry in enumerate(spec.get("dataFrom") or []):
        view[f"spec.dataFrom[{i}]"] = (
            {**vocabulary.REF_DEFAULTS, **_ref(entry.get("extract") or {})} if "extract" in entry else entry
        )
        if "extract" in entry and entry.get("rewrite"):
            view[f"spec.dataFrom[{i}].rewrite"] = entry["rewrite"]
    return view


# What a migration changes on purpose: the object moves from the chart's store to the platform's.
EXPECTED_CHANGES = ("spec.secretStoreRef",)


@dataclass
class Comparison:
    namespace: str
    name: str
    status: str
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Differing field path -> {"legacy": value, "owned": value}."""
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Fields the migration changes on purpose (`EXPECTED_CHANGES`), in the same form: never `differs`."""


def compare(legacy: list[dict[str, Any]], owned: list[dict[str, Any]], adopted: set[str]) -> Iterator[Comparison]:
    def key(obj: dict[str, Any]) -> tuple[str, str]:
        return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]

    old, new = {key(o): o for o in legacy}, {key(o): o for o in owned}
    for where in sorted(old.keys() | new.keys()):
        if where not in new:
            yield Comparison(*where, "legacy-only")
        elif where not in old:
            # Adopting an object the chart does not hold takes over something nobody reviewed.
            adopts = "/".join(where) in adopted
            yield Comparison(*where, "new", {"adopt": {"legacy": None, "owned": True}} if adopts else {})
        else:
            a, b = compared(old[where]), compared(new[where])
            changed = {
                path: {"legacy": a.get(path), "owned": b.get(path)}
                for path in sorted(a.keys() | b.keys())
                if a.get(path) != b.get(path)
            }
            fields = {path: values for path, values in changed.items() if path not in EXPECTED_CHANGES}
            expected = {path: values for path, values in changed.items() if path in EXPECTED_CHANGES}
            yield Comparison(*where, "differs" if fields else "same", fields, expected)


# --- applying -----------------------------------------------------------------------------------------


def write(plan: Plan, root: Path, force: bool = False) -> list[Path]:
    """Write the planned modules under `root` (an existing one only with `force`, else it joins the refusals)
    and the registry additions; the modules written."""
    existing = [path for path in plan.modules if (root / path).exists()]
    if existing and not force:
        plan.refused += [f"{path} exists: not overwritten (pass --force to replace it)" for path in existing]
    written = []
    for path, source in plan.modules.items():
        if path in existing and not force:
            continue
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(source)
        written.append(path)
    registry = root / tenancy.REGISTRY_PATH
    if registry.exists() and written:
        update_registry(registry, plan)
    return written


def compare_stack(stack: Stack, paths: Iterable[Path]) -> list[Comparison]:
    """The legacy objects in `paths` beside the ExternalSecrets `stack` owns."""
    external_secrets = [o for o in stack.objects if o.kind == vocabulary.EXTERNAL_SECRET]
    adopted = {o.name for o in external_secrets if o.adopt}
    return list(compare(load(paths), [o.manifest for o in external_secrets], adopted))


def mapping(path: Path | None) -> dict[str, dict[str, str]]:
    """MAP.yaml: `namespace/name` -> {team, workload}."""
    if path is None:
        return {}
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise LegacyError(f"{path}: cannot read it as YAML: {error}") from None
    if not isinstance(document, dict):
        raise LegacyError(f"{path}: must map namespace/name to {{team, workload}}")
    return document
