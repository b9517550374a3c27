"""The team contract: the three declaration models a team writes in `workloads/<team>/<workload>.py`.

Exported as `from components import WorkloadSecretsArgs, ExternalSecretSpec, RemoteRef` (the import line
of every team module, a public name that stays); defined here, in the pure core, so reading a module as
data never loads the Pulumi SDK.

Pydantic checks shape and formats field by field; `WorkloadSecretsArgs` then checks the rules
that need the whole workload (key prefix, ESO webhook rules) and raises `DeclarationError`
with every problem at once. Rules that need *all* workloads live in `inventory.py`.
"""

from __future__ import annotations

import difflib
import enum
import re
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from ameide_secrets import vocabulary
from ameide_secrets.declare import names
from ameide_secrets.findings import Finding
from ameide_secrets.rules import eso, rotation, targets, tenancy

# Labels and annotations under these prefixes steer the platform (ownership, prefix checks,
# Pulumi's await logic); a team module may not set them.
RESERVED_PREFIXES = ("ameide.io/", "pulumi.com/", "app.kubernetes.io/managed-by")

_KEY_PREFIX = re.compile(r"([A-Za-z0-9._-]+/)+")
_GO_DURATION = re.compile(r"0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+")


def go_duration_problem(value: str) -> str | None:
    """Why `value` is not a Go duration as ESO parses it (`1h`, `15m`, `1h30m`, `0`), or None."""
    if not _GO_DURATION.fullmatch(value):
        return 'must be a Go duration such as "1h", "15m" or "1h30m" ("0" syncs once)'
    return None


class Environment(enum.StrEnum):
    """A stack's environment; ordered local < staging < production."""

    LOCAL = "local"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def rank(self) -> int:
        return list(Environment).index(self)

    # A str enum would otherwise compare alphabetically with plain strings ("production" <
    # "staging"): compare by rank, accepting the plain spelling of an environment too.
    def __lt__(self, other: object) -> bool:
        return self.rank < Environment(str(other)).rank

    def __le__(self, other: object) -> bool:
        return self.rank <= Environment(str(other)).rank

    def __gt__(self, other: object) -> bool:
        return self.rank > Environment(str(other)).rank

    def __ge__(self, other: object) -> bool:
        return self.rank >= Environment(str(other)).rank


_MODEL = ConfigDict(
    extra="forbid",
    frozen=True,
    use_attribute_docstrings=True,
    validate_by_name=True,
    validate_by_alias=True,
)


def _reject(value: str, problem: str | None, what: str = "") -> None:
    """Raise pydantic's ValueError for `value` when a names.* check found a problem."""
    if problem:
        raise ValueError(f"{what}{value!r} {problem}")


class RemoteRef(BaseModel):
    """A value in Vault: ESO's `remoteRef` (in `data`) or `extract` (in `data_from`)."""

    model_config = _MODEL

    key: str
    """Vault key, relative to the KV mount, under the workload's key prefix (e.g. `plausible/db`)."""
    property: str | None = None
    """One field of the Vault secret; without it ESO returns the whole secret as JSON."""
    version: str | None = None
    """A KV v2 version to pin; latest when unset."""
    decoding_strategy: vocabulary.DecodingStrategy = Field(vocabulary.DEFAULT_DECODING_STRATEGY, alias="decodingStrategy")
    """How ESO decodes the value before writing it (ESO default `None`)."""
    conversion_strategy: vocabulary.ConversionStrategy = Field(vocabulary.DEFAULT_CONVERSION_STRATEGY, alias="conversionStrategy")
    """How ESO converts keys and values (ESO default `Default`)."""
    metadata_policy: vocabulary.MetadataPolicy = Field(vocabulary.DEFAULT_METADATA_POLICY, alias="metadataPolicy")
    """`Fetch` reads the secret's custom metadata instead of its data (ESO default `None`)."""

    @field_validator("key")
    @classmethod
    def _key_is_a_path(cls, key: str) -> str:
        # The mount's own name is checked where the stacks are known (inventory.tenancy_check).
        if problem := tenancy.vault_path_problem(key):
            raise ValueError(f"key {problem}")
        return key


def _ref_from_string(value: Any) -> Any:
    # The string form names the key; the field it reads is the stack's convention (ExternalSecretSpec.property_of).
    return {"key": value} if isinstance(value, str) else value


Ref = Annotated[RemoteRef, BeforeValidator(_ref_from_string)]


def _check_labels(values: dict[str, str], what: str) -> dict[str, str]:
    for key, value in values.items():
        _reject(key, names.label_key_problem(key), f"{what} key ")
        if key.startswith(RESERVED_PREFIXES):
            raise ValueError(f"{what} key {key!r} is reserved for the platform (prefixes {', '.join(RESERVED_PREFIXES)})")
        if what == "label":
            _reject(value, names.label_value_problem(value), f"label {key!r} value ")
    return values


class ExternalSecretSpec(BaseModel):
    """One ExternalSecret in the workload's namespace, and the Secret it writes."""

    model_config = _MODEL

    name: str
    """ExternalSecret name (DNS-1123 subdomain); keep it when a workload changes owner."""
    target: str | None = None
    """Name of the Kubernetes Secret ESO writes; defaults to `name`."""
    type: str = vocabulary.DEFAULT_SECRET_TYPE
    """Kubernetes Secret type, e.g. `kubernetes.io/basic-auth`."""
    data: dict[str, Ref] = {}
    """Secret key -> Vault reference: a key string, a `RemoteRef`, or a dict with ESO's camelCase keys."""
    data_from: list[Ref] = []
    """Vault keys whose every field becomes a Secret key (ESO `dataFrom[].extract`)."""
    refresh_interval: str | None = None
    """How often ESO re-reads Vault (Go duration); the stack's default when unset."""
    rotate_within: str | None = None
    """How old the Vault version each ref reads may grow (`90d`, `12w`): `vault-check --max-age` holds these keys
    to it instead of its own bound. Shown on the ExternalSecret as the `ameide.io/rotate-within` annotation."""
    creation_policy: vocabulary.CreationPolicy = vocabulary.DEFAULT_CREATION_POLICY
    """ESO `target.creationPolicy`; `Owner` garbage-collects the Secret with the ExternalSecret."""
    deletion_policy: vocabulary.DeletionPolicy = vocabulary.DEFAULT_DELETION_POLICY
    """ESO `target.deletionPolicy`: what happens to Secret keys that vanish from Vault."""
    labels: dict[str, str] = {}
    """Extra labels for the ExternalSecret and its Secret."""
    annotations: dict[str, str] = {}
    """Extra annotations for the ExternalSecret and its Secret."""
    adopt: bool | None = None
    """Take over the legacy bundle's ExternalSecret of the same name; the workload's `adopt` when unset."""

    _string_keys: frozenset[str] = PrivateAttr(frozenset())
    """The `data` keys written in the string form."""

    @model_validator(mode="wrap")
    @classmethod
    def _remember_string_form(cls, value: Any, handler: Any) -> Any:
        # Which refs were plain strings is gone once they are RemoteRefs: keep it beside the model.
        strings = (
            frozenset(k for k, v in (value.get("data") or {}).items() if isinstance(v, str)) if isinstance(value, dict) else None
        )
        spec = handler(value)
        if strings is not None:
            spec._string_keys = strings
        return spec

    def property_of(self, secret_key: str, string_property: str) -> str | None:
        """The field of its Vault secret that `data[secret_key]` reads: its `property`; for the string form the
        stack's `string_property` (a KV secret is a map of fields, and without one ESO writes the whole map as
        JSON); None for a map-form ref without property, which does read the whole secret."""
        if secret_key in self._string_keys:
            return string_property
        return self.data[secret_key].property

    @field_validator("name", "target")
    @classmethod
    def _object_name(cls, value: str | None) -> str | None:
        if value is not None:
            _reject(value, names.dns1123_subdomain_problem(value))
        return value

    @field_validator("data")
    @classmethod
    def _secret_keys(cls, data: dict[str, RemoteRef]) -> dict[str, RemoteRef]:
        for key in data:
            _reject(key, names.secret_key_problem(key), "secret key ")
        return data

    @field_validator("refresh_interval")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            _reject(value, go_duration_problem(value))
        return value

    @field_validator("rotate_within")
    @classmethod
    def _rotation(cls, value: str | None) -> str | None:
        if value is not None:
            _reject(value, rotation.duration_problem(value))
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "label")

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "annotation")

    @property
    def target_name(self) -> str:
        """The Secret this ExternalSecret writes."""
        return self.target or self.name


def _at(path: str, message: str) -> Finding:
    """A finding at a field path from `WORKLOAD` (the reader adds the module's file)."""
    return Finding(message, field=path)


class DeclarationError(Exception):
    """Every rule a single `WorkloadSecretsArgs` breaks, each with its field path."""

    def __init__(self, workload: str, problems: list[Finding]):
        self.workload = workload
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


class WorkloadSecretsArgs(BaseModel):
    """Everything a team declares about one workload's secrets (module constant `WORKLOAD`)."""

    model_config = _MODEL

    workload: str
    """Workload name (DNS-1123 label); also the default Vault key prefix `<workload>/`."""
    team: str
    """Owning team; must equal the folder name under `workloads/`."""
    namespace: str
    """Namespace of the workload's ExternalSecrets and Secrets."""
    rollout: Environment
    """Furthest environment where this module owns the secrets (`local` < `staging` < `production`)."""
    external_secrets: list[ExternalSecretSpec] = []
    """The ExternalSecrets this workload consumes."""
    existing_secrets: list[str] = []
    """Cluster-managed Secrets (e.g. CNPG's) the workload uses as they are: never re-hydrated."""
    key_prefix: str | None = None
    """Vault key prefix owning all keys; defaults to `<workload>/`."""
    adopt: bool = False
    """The legacy bundle still holds these ExternalSecrets (same names): take them over in place."""

    @field_validator("workload", "team", "namespace")
    @classmethod
    def _label(cls, value: str) -> str:
        _reject(value, names.dns1123_label_problem(value))
        return value

    @field_validator("existing_secrets")
    @classmethod
    def _existing(cls, values: list[str]) -> list[str]:
        for value in values:
            _reject(value, names.dns1123_subdomain_problem(value))
        return values

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        # The prefix becomes a Vault ACL path (`<mount>/data/<prefix>*`), where `*` and `+` are
        # wildcards: plain path segments only, or one prefix could grant every key.
        if value is not None and (not _KEY_PREFIX.fullmatch(value) or tenancy.vault_path_problem(value, prefix=True)):
            raise ValueError(
                f"{value!r} must be a Vault path ending in '/', e.g. 'shared/db/': letters, digits, '-', '_' and '.' "
                "between slashes ('*' and '+' are wildcards in Vault policies)"
            )
        return value

    def adopts(self, spec: ExternalSecretSpec) -> bool:
        """Whether `spec`'s ExternalSecret is taken over from the legacy bundle."""
        return self.adopt if spec.adopt is None else spec.adopt

    @property
    def prefix(self) -> str:
        """The Vault key prefix every key of this workload sits under."""
        return self.key_prefix or f"{self.workload}/"

    @model_validator(mode="after")
    def _workload_rules(self) -> WorkloadSecretsArgs:
        problems = list(self._rule_problems())
        if problems:
            raise DeclarationError(self.workload, problems)
        return self

    def _rule_problems(self) -> Iterator[Finding]:
        for i, spec in enumerate(self.external_secrets):
            at = f"WORKLOAD.external_secrets[{i}]"
            if problem := eso.data_problem(bool(spec.data), bool(spec.data_from)):
                yield _at(at, f"ExternalSecret {spec.name!r} {problem}")
            if problem := eso.deletion_policy_problem(spec.creation_policy, spec.deletion_policy):
                yield _at(f"{at}.deletion_policy", problem)
            if problem := targets.reserved_name_problem(spec.target_name, spec.creation_policy):
                yield _at(f"{at}.target", problem)
            refs = [(f'{at}.data["{k}"]', ref) for k, ref in spec.data.items()]
            refs += [(f"{at}.data_from[{j}]", ref) for j, ref in enumerate(spec.data_from)]
            for path, ref in refs:
                if problem := tenancy.key_prefix_problem(ref.key, self.prefix):
                    yield _at(path, f"key {problem}")


def _path(loc: tuple[int | str, ...], root: str) -> str:
    """`('external_secrets', 0, 'data', 'X', 'key')` -> `WORKLOAD.external_secrets[0].data["X"].key`."""
    out = root
    mapping_fields = {"data", "labels", "annotations"}
    key_next = False  # the part after a mapping field is one of its keys, whatever its spelling
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
            key_next = False
        elif key_next:
            out += f'["{part}"]'
            key_next = False
        else:
            out += f".{part}"
            key_next = part in mapping_fields
    return out


def _field_names(annotation: Any, loc: tuple[int | str, ...]) -> list[str]:
    """The field names and aliases of the model `loc` leads to from `annotation` (through lists, dicts,
    optionals and the string-or-RemoteRef form), or none."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _field_names(args[0], loc)
    if origin in (typing.Union, types.UnionType):
        return [name for arg in args for name in _field_names(arg, loc)]
    if origin in (list, dict):
        return _field_names(args[-1], loc[1:]) if loc and loc[0] != "[key]" else []
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return []
    fields = annotation.model_fields
    if not loc:
        return [*fields, *(f.alias for f in fields.values() if f.alias)]
    by_alias = {f.alias: f for f in fields.values() if f.alias}
    field = fields.get(str(loc[0])) or by_alias.get(str(loc[0]))
    return _field_names(field.annotation, loc[1:]) if field else []


def _unknown_field(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str:
    """An unknown field's message, with the closest field of its model (snake_case, or ESO's camelCase in a RemoteRef dict)."""
    message = "unknown field (check the spelling against ameide_secrets/declare/contract.py)"
    close = difflib.get_close_matches(str(loc[-1]), _field_names(model, loc[:-1]), n=1) if model and loc else []
    return f"{message}; did you mean {close[0]!r}?" if close else message


def problems_from_validation_error(error: ValidationError, root: str = "WORKLOAD") -> list[Finding]:
    """Pydantic's errors as findings, each with the offending value and how to fix it.

    `root` is the field path of the model that failed, e.g. `WORKLOAD.external_secrets[0]` when
    an `ExternalSecretSpec(...)` written inside the declaration raised.
    """
    model = _CONTRACT.get(error.title)
    problems = []
    for item in error.errors(include_url=False):
        kind, message, value = item["type"], item["msg"], item.get("input")
        if kind == "extra_forbidden":
            message = _unknown_field(model, tuple(item["loc"]))
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "value_error":
            message = message.removeprefix("Value error, ")
        else:
            message = f"{message}, got {value!r}"
        problems.append(_at(_path(tuple(item["loc"]), root), message))
    return problems


_CONTRACT: dict[str, type[BaseModel]] = {model.__name__: model for model in (WorkloadSecretsArgs, ExternalSecretSpec, RemoteRef)}
"""The models by name, as a ValidationError's `title` names the one that failed."""
