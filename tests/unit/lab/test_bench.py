"""The benchmark's synthetic workloads are valid declarations, and a run reports every phase."""

from __future__ import annotations

import sys
from pathlib import Path

from ameide_secrets.offline.crd_schema import crds_dir
from ameide_secrets.project import REPOSITORY, Project
from lab import bench


def test_workloads_when_generated_then_valid_and_spread_over_teams_and_namespaces(tmp_path: Path) -> None:
    declared = Project(bench.write_project(tmp_path, 40)).declared
    assert len(declared) == 40
    assert len({d.args.team for d in declared}) == bench.TEAMS
    assert len({d.args.namespace for d in declared}) == bench.NAMESPACES
    specs = [spec for d in declared for spec in d.args.external_secrets]
    assert len(specs) == 40 * bench.SECRETS_PER_WORKLOAD
    assert all(len(spec.data) == bench.ENTRIES_PER_SECRET for spec in specs)
    # String, RemoteRef and camelCase-dict refs are all in use.
    assert {ref.property is None for spec in specs for ref in spec.data.values()} == {True, False}
    assert {ref.decoding_strategy for spec in specs for ref in spec.data.values()} == {"None", "Base64"}


def test_measure_when_yaml_then_phases_floor_and_memory_reported(tmp_path: Path, monkeypatch) -> None:
    # The synthetic project is not beside ../shared: the CRDs this checkout validates against (as run_child passes them).
    monkeypatch.setenv("ESO_CRDS_DIR", str(crds_dir(REPOSITORY)))
    result = bench.measure(bench.write_project(tmp_path, 5), "production", "yaml")
    assert result["external_secrets"] == 5 * bench.SECRETS_PER_WORKLOAD
    assert set(result["phases_s"]) == {"plan", "schema", "policy", "output"}
    # The floor (libyaml dumping the same dicts) is a fraction of the whole run; memory is a real reading.
    assert 0 < result["floor_s"] < result["wall_s"]
    assert 20 < result["peak_mib"] < 1024


def test_growth_when_two_sizes_then_ratio_of_largest_to_previous() -> None:
    rows = [{"format": "yaml", "wall_s": 1.0}, {"format": "yaml", "wall_s": 8.0}, {"format": "json", "wall_s": 2.0}]
    assert bench.growth(rows) == {"yaml": 8.0}


def test_against_cdk8s_when_both_rows_at_a_size_then_ratio_of_yaml_process_to_synth() -> None:
    rows = [
        {"workloads": 10, "format": "yaml process", "wall_s": 0.3},
        {"workloads": 10, "format": "cdk8s synth", "wall_s": 0.6},
        {"workloads": 1000, "format": "yaml process", "wall_s": 1.0},
        {"workloads": 100, "format": "cdk8s synth", "wall_s": 0.9},
    ]
    assert bench.against_cdk8s(rows) == {10: 0.5}


def test_timed_when_a_program_burns_cpu_then_its_seconds_are_attributed_to_it(tmp_path: Path) -> None:
    """The real engine's rows say where the time went (CLI, program, provider) from these samples."""
    script = tmp_path / "burn.py"
    script.write_text("import time\nend = time.process_time() + 1.2\nwhile time.process_time() < end:\n    pass\nprint('done')\n")
    run = bench._timed([sys.executable, str(script)], tmp_path)
    assert run.stdout == "done\n"
    assert list(run.cpu_s) == ["python burn.py"]  # the measuring wrapper is left out
    assert 0.5 <= run.cpu_s["python burn.py"] <= 1.5
    assert run.wall_s >= 1.2


def test_timed_when_a_process_execs_after_it_was_sampled_then_its_time_is_the_new_programs(tmp_path: Path) -> None:
    """A child first sampled between fork and exec (the CLI under load) is named by what it runs at last."""
    script = tmp_path / "burn.py"
    script.write_text("import time\nend = time.process_time() + 0.8\nwhile time.process_time() < end:\n    pass\n")
    # The child idles as `python -c` for several samples, then becomes `python burn.py` and burns CPU.
    shim = f"import os, sys, time; time.sleep(0.6); os.execv(sys.executable, [sys.executable, {str(script)!r}])"
    run = bench._timed([sys.executable, "-c", shim], tmp_path)
    assert list(run.cpu_s) == ["python burn.py"]
    assert run.cpu_s["python burn.py"] >= 0.5


def test_timed_when_a_process_ended_but_is_not_yet_reaped_then_it_keeps_its_name(tmp_path: Path) -> None:
    """A zombie's command line reads empty: the CLI sampled after it exited, before its parent waited."""
    script = tmp_path / "burn.py"
    script.write_text("import time\nend = time.process_time() + 0.8\nwhile time.process_time() < end:\n    pass\n")
    # The parent leaves its ended child unreaped for several samples.
    parent = (
        f"import subprocess, sys, time; child = subprocess.Popen([sys.executable, {str(script)!r}]); time.sleep(2); child.wait()"
    )
    run = bench._timed([sys.executable, "-c", parent], tmp_path)
    assert list(run.cpu_s) == ["python burn.py", "python -c"]
    assert run.cpu_s["python burn.py"] >= 0.5
