"""offline/crd_schema.py: where the ESO CRDs come from on a fresh clone, and that a download is verified."""

from __future__ import annotations

import copy
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ameide_secrets.offline import crd_schema
from ameide_secrets.offline.crd_schema import CrdSchemas
from ameide_secrets.project import REPOSITORY

from helpers import external_secret_manifest, store_manifest


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An HTTP server on loopback serving a copy of the CRDs at /<version>/<name>; yields (its folder, URL template)."""
    root = tmp_path / "served"
    # copyfile: the shared folder is read-only, the copy must not be.
    shutil.copytree(crd_schema.crds_dir(REPOSITORY), root / crd_schema.ESO_VERSION, copy_function=shutil.copyfile)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root / crd_schema.ESO_VERSION, f"http://127.0.0.1:{server.server_port}/{{version}}/{{name}}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_when_files_match_pinned_digests_then_written_and_usable(served, tmp_path: Path) -> None:
    _, source = served
    target = tmp_path / "cache"
    crd_schema.fetch_crds(target, source=source)
    schemas = CrdSchemas(target)
    assert schemas.schema("ExternalSecret")["type"] == "object"


def test_fetch_when_a_file_is_tampered_then_refused_and_nothing_written(served, tmp_path: Path) -> None:
    folder, source = served
    path = folder / "external-secrets.io_secretstores.yaml"
    path.write_text(path.read_text() + "\n# changed\n")
    target = tmp_path / "cache"
    with pytest.raises(crd_schema.CrdsMissingError, match="does not match the pinned sha256"):
        crd_schema.fetch_crds(target, source=source)
    assert not target.exists()


def test_fetch_when_source_unreachable_then_says_where_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(
        crd_schema.CrdsMissingError, match=r"could not be downloaded from http://127\.0\.0\.1:9/.*set ESO_CRDS_DIR"
    ):
        crd_schema.fetch_crds(tmp_path / "cache", source="http://127.0.0.1:9/{version}/{name}", timeout=2)
    assert not (tmp_path / "cache").exists()


def test_crds_dir_when_env_set_then_it_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ESO_CRDS_DIR", str(tmp_path))
    assert crd_schema.crds_dir(REPOSITORY) == tmp_path


def test_errors_when_defaults_unrendered_then_reported_by_with_defaults_and_manifest_left_alone(crds: CrdSchemas) -> None:
    """`errors` validates without filling defaults (so without copying every manifest); `with_defaults`
    shows what the API server would add, on a copy."""
    manifest = external_secret_manifest()
    del manifest["spec"]["target"]["creationPolicy"]
    before = copy.deepcopy(manifest)
    assert crds.errors(manifest) == []
    assert manifest == before
    filled = crds.with_defaults(manifest)
    assert filled["spec"]["target"]["creationPolicy"] == "Owner"
    assert manifest == before


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda m: m.update(apiVersion="external-secrets.io/v1beta1"),
         "apiVersion 'external-secrets.io/v1beta1' is not served by ESO 2.9 (use external-secrets.io/v1)"),
        (lambda m: m["spec"].update(refreshIntervall="1h"), "data.spec: data.spec must not contain {'refreshIntervall'} properties"),
        (lambda m: m.update(kind="ConfigMap"), None),
        # Kubernetes' own formats (date-time, byte, int32, int64) are the typed fields' business, not the schema's.
        (lambda m: m.update(status={"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-04T01:00:00Z"}]}), None),
    ],
)  # fmt: skip
def test_errors_when_version_or_field_not_served_then_named_and_other_kinds_not_judged(crds: CrdSchemas, change, error) -> None:
    manifest = external_secret_manifest()
    change(manifest)
    assert crds.errors(manifest) == ([] if error is None else [error])


def test_errors_when_a_store_carries_a_byte_format_field_then_it_validates(crds: CrdSchemas) -> None:
    store = store_manifest()
    store["spec"]["provider"]["vault"]["caBundle"] = "LS0tLS1CRUdJTi0tLS0t"
    assert crds.errors(store) == []


def test_errors_when_the_cache_folder_does_not_exist_yet_then_the_compiled_validator_is_kept_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A first run on a fresh machine creates its cache, so the next run need not compile the CRDs again."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh"))
    assert CrdSchemas(crd_schema.crds_dir(REPOSITORY)).errors(external_secret_manifest()) == []
    kept = sorted(path.name for path in (tmp_path / "fresh" / "ameide-secrets").glob("*.py"))
    assert [name.split("_")[0] for name in kept] == ["externalsecret"]
