"""`make bench PEERS="cdk8s helm engine"`: the peers render the same ExternalSecrets the program does.

The numbers themselves are read in docs/performance.md, never asserted; what is asserted is that
each peer run was complete (cdk8s's and Helm's output equal the objects they were given, the whole
YAML-view process wrote every ExternalSecret, `pulumi up` wrote every ExternalSecret), so the table
compares like with like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab import bench

WORKLOADS = 4


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("bench")
    return directory, bench.write_project(directory, WORKLOADS)


def test_helm_peer_when_given_the_preview_s_external_secrets_then_renders_exactly_them(synthetic: tuple[Path, Path]) -> None:
    directory, workloads = synthetic
    objects = [o for o in bench.preview_objects(workloads, "production") if o["kind"] == "ExternalSecret"]
    assert len(objects) == WORKLOADS * bench.SECRETS_PER_WORKLOAD
    row = bench.helm_peer(directory, objects)
    assert row["external_secrets"] == len(objects)
    assert row["wall_s"] > 0
    assert row["peak_mib"] > 1


def test_cdk8s_peer_when_given_the_preview_s_external_secrets_then_synthesises_exactly_them(
    synthetic: tuple[Path, Path],
) -> None:
    """cdk8s comes from npm at the pinned versions into .cache/cdk8s (CI reaches the npm registry)."""
    directory, workloads = synthetic
    objects = [o for o in bench.preview_objects(workloads, "production") if o["kind"] == "ExternalSecret"]
    row = bench.cdk8s_peer(directory, objects)
    assert (row["format"], row["external_secrets"]) == ("cdk8s synth", len(objects))
    assert row["wall_s"] > 0
    assert row["peak_mib"] > 1
    with pytest.raises(RuntimeError, match="cdk8s synth did not render the ExternalSecrets it was given"):
        bench._same_documents(
            (directory / "cdk8s-app" / "dist" / "vault-secrets.k8s.yaml").read_text(), objects[1:], "cdk8s synth"
        )


def test_yaml_process_when_run_on_synthetic_workloads_then_writes_every_external_secret(synthetic: tuple[Path, Path]) -> None:
    directory, workloads = synthetic
    row = bench.yaml_process(directory, workloads, "production", WORKLOADS * bench.SECRETS_PER_WORKLOAD)
    assert (row["format"], row["external_secrets"]) == ("yaml process", WORKLOADS * bench.SECRETS_PER_WORKLOAD)
    with pytest.raises(RuntimeError, match="wrote 12 ExternalSecrets, not 13"):
        bench.yaml_process(directory / "again", workloads, "production", WORKLOADS * bench.SECRETS_PER_WORKLOAD + 1)


def _cwd(link: Path) -> Path | None:
    try:
        return link.resolve(strict=True)
    except OSError:
        return None


def eventually_none(probe: Callable[[], list[Path]], timeout: float = 10) -> bool:
    """True once `probe()` finds nothing (a killed process leaves /proc a moment later)."""
    deadline = time.monotonic() + timeout
    while probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_engine_peer_when_past_its_time_limit_then_row_marked_unfinished_and_nothing_left_running(tmp_path: Path) -> None:
    # Large enough that the preview is still running, its plugins started, when the limit strikes.
    workloads = bench.write_project(tmp_path, 100)
    [row] = bench.engine_peer(tmp_path / "engine-short", workloads, 100 * bench.SECRETS_PER_WORKLOAD, timeout=4)
    assert row == {
        "format": "pulumi preview",
        "wall_s": 4,
        "peak_mib": row["peak_mib"],
        "unfinished": True,
        "cpu_s": row["cpu_s"],
    }
    # Where its time had gone when it was stopped: the CLI at least.
    assert row["cpu_s"]["pulumi"] > 0
    # Nothing of that run is left: not the CLI, not the plugins it starts in process groups of their own.
    project = (tmp_path / "engine-short" / "project").resolve()
    assert eventually_none(lambda: [p for p in Path("/proc").glob("[0-9]*/cwd") if _cwd(p) == project])


def test_engine_peer_when_run_then_previews_and_renders_every_external_secret(synthetic: tuple[Path, Path]) -> None:
    directory, workloads = synthetic
    rows = list(bench.engine_peer(directory / "engine", workloads, WORKLOADS * bench.SECRETS_PER_WORKLOAD))
    assert [r["format"] for r in rows] == ["pulumi preview", "preview nockpt", "pulumi up"]
    assert all(r["wall_s"] > 0 for r in rows)
    # CPU per program: the CLI in every run; over the runs also the program (run by our language host
    # with `python -c`) and the provider (a run this small may start and end one between two samples).
    assert all("pulumi" in r["cpu_s"] for r in rows)
    assert {"pulumi", "python -c", "pulumi-resource-kubernetes"} <= {name for r in rows for name in r["cpu_s"]}
    assert all(r["peak_mib"] > 1 for r in rows)
    with pytest.raises(RuntimeError, match="rendered 12 ExternalSecrets, not 13"):
        list(bench.engine_peer(directory / "engine-again", workloads, WORKLOADS * bench.SECRETS_PER_WORKLOAD + 1))
