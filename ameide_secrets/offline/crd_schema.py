"""Validate rendered ESO objects against the real ESO CRDs' `openAPIV3Schema`.

The CRDs are read from `ESO_CRDS_DIR` when set, else `../shared/eso-crds` beside the repository,
else a cache in `.cache/eso-crds/<version>/` that the first run fills from ESO's repository at the
release tag, each file checked against the digest pinned here (the Go module proxy does not serve
ESO v2.9.0, so its module cannot be the source). They are never copied into the repository. Two deliberate tightenings over the API server:

- an unknown field is an error, where the API server would silently prune it (a typo in a
  renderer would otherwise ship as a missing setting);
- a field that has a schema default but is not rendered is shown by `with_defaults`:
  the API server would fill it in and every `pulumi preview` would show a diff.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import yaml

from ameide_secrets.findings import InputError
from ameide_secrets.vocabulary import ESO_API_VERSION, YAML_LOADER

_FILES = {
    "ExternalSecret": "external-secrets.io_externalsecrets.yaml",
    "ClusterSecretStore": "external-secrets.io_clustersecretstores.yaml",
    "SecretStore": "external-secrets.io_secretstores.yaml",
}
# Kubernetes formats with no JSON-schema meaning; the typed fields carry the real constraint.
_FORMATS = {name: (lambda _value: True) for name in ("int32", "int64", "byte", "date-time")}


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ameide-secrets"


ESO_VERSION = "v2.9.0"
# sha256 of each CRD file at ESO_VERSION (config/crds/bases/): a download must match exactly.
_DIGESTS = {
    "external-secrets.io_externalsecrets.yaml": "5044be5a610ca90a075f34f03ed20b462695c43387ba9410db7f4250e47b1e2f",
    "external-secrets.io_clustersecretstores.yaml": "f847c69ae317a76527fc37c163ddfe15d9026e14eb47dd325319e914e0433c2a",
    "external-secrets.io_secretstores.yaml": "7f750858d393913915a2f15daff9e1d2f56ca207c09920c055d7a68cceacb641",
    "external-secrets.io_clusterexternalsecrets.yaml": "9f5563a19efb4bce47f3916937eac160eae1eaec56560e4f6f77b1b2047a8664",
}
_SOURCE = "https://raw.githubusercontent.com/external-secrets/external-secrets/{version}/config/crds/bases/{name}"


class CrdsMissingError(InputError):
    """The ESO CRDs the checks validate against are not here, and could not be fetched as pinned."""


def fetched_dir(root: Path) -> Path:
    """Where a checkout at `root` keeps the CRDs it fetched (ignored by git)."""
    return root / ".cache" / "eso-crds" / ESO_VERSION


def crds_dir(root: Path) -> Path:
    """Where the CRDs are read from for the checkout at `root`: ESO_CRDS_DIR, ../shared/eso-crds beside it,
    or its fetched cache (filled on demand)."""
    if "ESO_CRDS_DIR" in os.environ:
        return Path(os.environ["ESO_CRDS_DIR"])
    shared = root.parent / "shared" / "eso-crds"
    if shared.is_dir():
        return shared
    if not all((fetched_dir(root) / name).is_file() for name in _DIGESTS):
        fetch_crds(fetched_dir(root))
    return fetched_dir(root)


def fetch_crds(directory: Path, source: str = _SOURCE, timeout: float = 30) -> None:
    """Download the ESO_VERSION CRDs into `directory`, verified against the pinned digests; all or nothing."""
    import urllib.request  # only a fresh clone without ../shared pays for it (the CRDs, not Vault)

    fetched: dict[str, bytes] = {}
    for name, digest in _DIGESTS.items():
        url = source.format(version=ESO_VERSION, name=name)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body: bytes = response.read()
        except OSError as error:
            raise CrdsMissingError(
                f"ESO {ESO_VERSION} CRDs are not in ../shared/eso-crds and could not be downloaded from {url} ({error}); "
                "set ESO_CRDS_DIR to a folder holding them"
            ) from None
        if hashlib.sha256(body).hexdigest() != digest:
            raise CrdsMissingError(f"{url} does not match the pinned sha256 of ESO {ESO_VERSION}'s {name}; refusing it")
        fetched[name] = body
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in fetched.items():
        (directory / name).write_bytes(body)


class CrdSchemas:
    """Compiled validators for ESO kinds, built once on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not self.directory.is_dir():
            raise CrdsMissingError(f"ESO CRDs not found at {self.directory}; set ESO_CRDS_DIR to the folder holding them")
        self._validators: dict[tuple[str, bool], Callable[[Any], Any]] = {}

    def schema(self, kind: str, version: str = "v1") -> dict[str, Any]:
        """The `openAPIV3Schema` of `kind` at `version`, tightened as the module docstring says."""
        document = yaml.load((self.directory / _FILES[kind]).read_text(), Loader=YAML_LOADER)
        served = [v for v in document["spec"]["versions"] if v["name"] == version and v.get("served")]
        if not served:
            raise ValueError(f"{kind} {version} is not served by the CRDs in {self.directory}")
        schema: dict[str, Any] = served[0]["schema"]["openAPIV3Schema"]
        if kind != "ExternalSecret":
            # The store only ever uses the Vault provider; the ~80 others make the compiled
            # validator 20x slower and could only hide a mistake.
            providers = schema["properties"]["spec"]["properties"]["provider"]["properties"]
            schema["properties"]["spec"]["properties"]["provider"]["properties"] = {"vault": providers["vault"]}
        _forbid_unknown_fields(schema)
        return schema

    def _validator(self, kind: str, defaults: bool = False) -> Callable[[Any], Any]:
        """Validates a manifest; with `defaults` it also fills schema defaults into it (so give it a copy)."""
        if (kind, defaults) not in self._validators:
            self._validators[kind, defaults] = self._cached_validator(kind, defaults)
        return self._validators[kind, defaults]

    def _cached_validator(self, kind: str, defaults: bool) -> Callable[[Any], Any]:
        """The compiled validator of `kind`, kept as a Python module in the user's cache.

        Generating it costs more than validating thousands of objects; like a .pyc, it is keyed
        by everything it is made from (the CRD, this module, fastjsonschema's version).
        """
        crd = self.directory / _FILES[kind]
        digest = hashlib.sha256(crd.read_bytes() + Path(__file__).read_bytes() + fastjsonschema.VERSION.encode()).hexdigest()[:24]
        name = f"{kind.lower()}{'_defaults' if defaults else ''}_{digest}"
        path = _cache_dir() / f"{name}.py"
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.tmp")
                partial.write_text(fastjsonschema.compile_to_code(self.schema(kind), formats=_FORMATS, use_default=defaults))
                partial.replace(path)  # atomic: a concurrent run sees all of it or nothing
            spec = importlib.util.spec_from_file_location(f"_ameide_crd_{name}", path)
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except OSError:  # no writable cache: compile in memory
            return fastjsonschema.compile(self.schema(kind), formats=_FORMATS, use_default=defaults)
        validate: Callable[..., Any] = module.validate
        return functools.partial(validate, custom_formats=_FORMATS)

    def errors(self, manifest: dict[str, Any]) -> list[str]:
        """Why the API server (or its pruning) would not take `manifest` as it is; [] when fine."""
        kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
        if kind not in _FILES:
            return []
        if api_version != ESO_API_VERSION:
            return [f"apiVersion {api_version!r} is not served by ESO 2.9 (use {ESO_API_VERSION})"]
        try:
            # Without defaults the validator only reads: no copy of every manifest.
            self._validator(kind)(manifest)
        except fastjsonschema.JsonSchemaValueException as error:
            return [f"{error.name}: {error.message}"]
        return []

    def with_defaults(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The manifest as the API server would store it after applying schema defaults."""
        filled: dict[str, Any] = self._validator(manifest["kind"], defaults=True)(copy.deepcopy(manifest))
        return filled


def _forbid_unknown_fields(node: Any) -> None:
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            _forbid_unknown_fields(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_unknown_fields(value)
