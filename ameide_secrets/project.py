"""Project -> Stack: every input read once, from an explicit root; every entry point starts here.

`Project(root)` reads `Pulumi.yaml` (the typed settings and their defaults) and every `Pulumi.<stack>.yaml`
once; the team modules and the access registry are read once, on first use. `project.stack(name)` is one
stack computed from them: its settings, the workloads it owns, their namespaces and Vault grants, the one
list of its Kubernetes objects (`render/objects.py`), Vault's side (`render/vault_plan.py`) and its
outputs. `__main__.py`, the CrossGuard pack, every verb of the command line, the lab and the bench start
from a Project; nothing reads these files anywhere else. Pure: no `pulumi` import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic.alias_generators import to_camel

from ameide_secrets.declare import inventory
from ameide_secrets.declare.contract import Environment
from ameide_secrets.declare.inventory import DeclaredWorkload, Grant, Inventory
from ameide_secrets.declare.settings import PROJECT, SettingsError, StackSettings, config_string
from ameide_secrets.render import vault_plan
from ameide_secrets.render.objects import StackObject, stack_objects
from ameide_secrets.rules import tenancy
from ameide_secrets.vocabulary import STORE_KIND, YAML_LOADER

REPOSITORY = Path(__file__).resolve().parent.parent
"""The checkout this package was imported from: the default root of the command line."""

_PREFIX = f"{PROJECT}:"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.load(path.read_text(), Loader=YAML_LOADER) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"{path.name}: cannot be read as YAML: {error}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{path.name}: must be a YAML mapping")
    return document


def _qualified(key: str) -> str:
    return key if ":" in key else f"{_PREFIX}{key}"


class Project:
    """The project at `root`: its settings schema, its stacks' files, its team modules and access registry."""

    def __init__(self, root: Path = REPOSITORY) -> None:
        self.root = root.resolve()
        if not (self.root / "Pulumi.yaml").is_file():
            raise SettingsError(f"{self.root} holds no Pulumi.yaml: run from the project's root, or pass --root")
        project = _read_yaml(self.root / "Pulumi.yaml")
        self.schema: dict[str, Any] = {_qualified(key): spec for key, spec in (project.get("config") or {}).items()}
        self.defaults: dict[str, Any] = {
            key: spec["default"] for key, spec in self.schema.items() if isinstance(spec, dict) and "default" in spec
        }
        self._stack_files = {
            path.name.removeprefix("Pulumi.").removesuffix(".yaml"): _read_yaml(path)
            for path in sorted(self.root.glob("Pulumi.*.yaml"))
        }

    def stack_file(self, stack: str) -> dict[str, Any]:
        """`Pulumi.<stack>.yaml` as committed (no defaults): what a copy with other settings starts from."""
        if stack not in self._stack_files:
            raise SettingsError(f"no stack {stack!r}: Pulumi.{stack}.yaml does not exist (stacks: {', '.join(self.stack_names)})")
        return dict(self._stack_files[stack])

    @property
    def stack_names(self) -> list[str]:
        """Every stack with a `Pulumi.<stack>.yaml`, in rollout order (local, staging, production)."""

        def rank(name: str) -> int:
            environment = self.config(name).get(f"{_PREFIX}environment")
            return Environment(environment).rank if environment in set(Environment) else len(Environment)

        return sorted(self._stack_files, key=rank)

    def config(self, stack: str, config_file: Path | None = None) -> dict[str, str]:
        """The stack's config as the Pulumi CLI passes it to the program: `Pulumi.yaml` defaults overlaid with
        the stack file (or `config_file`, as `pulumi --config-file`), fully qualified keys, string values."""
        if config_file is not None:
            document = _read_yaml(config_file)
            where = config_file.name
        elif stack in self._stack_files:
            document, where = self._stack_files[stack], f"Pulumi.{stack}.yaml"
        else:
            raise SettingsError(f"no stack {stack!r}: Pulumi.{stack}.yaml does not exist (stacks: {', '.join(self.stack_names)})")
        values = dict(self.defaults)
        for key, value in (document.get("config") or {}).items():
            if str(key).startswith(_PREFIX) and key not in self.schema:
                raise SettingsError(f"{where}: {key}: unknown setting (the settings are declared in Pulumi.yaml)")
            values[str(key)] = value
        return {key: config_string(value) for key, value in values.items()}

    @property
    def declared(self) -> tuple[DeclaredWorkload, ...]:
        """Every team module under `workloads/`, read as data and checked against each other and the registry."""
        return self.inventory.workloads

    @property
    def registry(self) -> tenancy.Registry:
        """The access registry (`platform/tenants.yaml`) the team modules were checked against."""
        return self.inventory.registry

    @functools.cached_property
    def inventory(self) -> Inventory:
        configs = [self.config(name) for name in self._stack_files]
        # Every stack's ESO namespace is a system namespace and every KV mount a reserved first key
        # segment, whichever stack a workload reaches: the registry is one for all stacks.
        eso = sorted({c.get(f"{_PREFIX}esoNamespace", "") for c in configs} - {""})
        mounts = sorted({c.get(f"{_PREFIX}vaultKvMount", "") for c in configs} - {""})
        return inventory.discover(self.root, eso, mounts)

    def stack(
        self,
        name: str,
        *,
        config_file: Path | None = None,
        config: Mapping[str, str] | None = None,
        lookup: Callable[[str], str | None] | None = None,
    ) -> Stack:
        """Stack `name` with its settings from the files (default), from `config_file`, from `config` (fully
        qualified, as `config()` returns it) or from `lookup` (the program passes `pulumi.Config(PROJECT).get`,
        which the CLI filled from whatever config file it was given)."""
        if lookup is not None:
            config = {
                f"{_PREFIX}{key}": value
                for key in map(to_camel, StackSettings.model_fields)
                if (value := lookup(key)) is not None
            }
        elif config is None:
            config = self.config(name, config_file)
        settings = StackSettings.from_config(
            {k.removeprefix(_PREFIX): v for k, v in config.items() if k.startswith(_PREFIX)}, name
        )
        owned = tuple(d for d in self.declared if settings.environment <= d.args.rollout)
        # The floor is the stack's: a module is judged by each stack that owns it, before anything is registered.
        if problems := inventory.refresh_check(owned, settings.refresh_interval_floor):
            raise inventory.DeclarationErrors(problems)
        return Stack(self, name, dict(config), settings, owned)


@dataclass(frozen=True, eq=False)
class Stack:
    """One stack of a project, computed once: everything the program registers and every verb reads."""

    project: Project
    name: str
    config: dict[str, str]
    """Fully qualified, string-valued: what the program receives from the CLI (or the mock harness)."""
    settings: StackSettings
    owned: tuple[DeclaredWorkload, ...]
    """The workloads this stack owns: those rolled out at least as far as its environment."""

    @functools.cached_property
    def namespaces(self) -> list[str]:
        """The namespaces the platform's store admits: those of the owned workloads."""
        return inventory.namespaces(self.owned)

    @functools.cached_property
    def grants(self) -> list[Grant]:
        return inventory.grants(self.owned, self.project.registry)

    @functools.cached_property
    def modules(self) -> dict[str, str]:
        """Owned workload -> the module declaring it."""
        return inventory.modules(self.owned)

    @functools.cached_property
    def objects(self) -> list[StackObject]:
        """Every Kubernetes object of the stack, with its dependencies: what the components register."""
        return stack_objects(self.settings, self.owned, self.namespaces, self.grants)

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return [o.manifest for o in self.objects]

    @functools.cached_property
    def _by_workload(self) -> dict[str | None, list[StackObject]]:
        grouped: dict[str | None, list[StackObject]] = {}
        for obj in self.objects:
            grouped.setdefault(obj.workload, []).append(obj)
        return grouped

    @property
    def platform_objects(self) -> list[StackObject]:
        """The objects PlatformSecretAccess registers: every one no workload owns."""
        return self._by_workload.get(None, [])

    def workload_objects(self, workload: str) -> list[StackObject]:
        """The objects `workload`'s WorkloadSecrets registers, in its declaration's order."""
        return self._by_workload.get(workload, [])

    @property
    def adopting(self) -> bool:
        """Whether any object is taken over from the legacy chart (the program then needs an upserting provider)."""
        return any(o.adopt for o in self.objects)

    @functools.cached_property
    def vault(self) -> vault_plan.VaultPlan:
        """Vault's side: managed by `VaultAccess` where `vaultManage` is set, applied over HTTP in the lab."""
        return vault_plan.plan(self.settings, self.namespaces, self.grants)

    @functools.cached_property
    def outputs(self) -> dict[str, Any]:
        """The stack's exports: what the rollout gate of the next stack, and people, read."""
        return {
            "environment": self.settings.environment.value,
            "storeName": self.settings.store_name,
            "storeKind": STORE_KIND,
            "ownedWorkloads": sorted(self.modules),
            # Cluster-managed Secrets (e.g. CNPG's) are listed beside the hydrated ones: consumers see every
            # Secret the workload may mount, and none of them is re-created here.
            "secretsByWorkload": {
                d.args.workload: [spec.target_name for spec in d.args.external_secrets] + list(d.args.existing_secrets)
                for d in sorted(self.owned, key=lambda d: d.args.workload)
            },
        }
