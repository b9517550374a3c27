"""lab.testenv's files for a loopback environment (the processes themselves: tests/e2e)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from ameide_secrets.project import REPOSITORY, Project
from lab import testenv

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def environment(tmp_path: Path) -> tuple[Path, testenv.State]:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_text(PEM)
    state = testenv.State(
        {c: testenv.ClusterPorts(2379 + i, 2380 + i, 6443 + i, 8080 + i, 8200 + i) for i, c in enumerate(testenv.CLUSTERS)},
        {},
        "pass phrase with 'quotes'",
        {c: f"root-{c}" for c in testenv.CLUSTERS},
    )
    state.save(tmp_path)
    return tmp_path, state


@pytest.mark.parametrize("stack", testenv.CLUSTERS)
def test_write_stack_file_when_written_then_committed_file_plus_loopback_overrides_and_repository_untouched(
    environment: tuple[Path, testenv.State], stack: str
) -> None:
    directory, state = environment
    committed = (REPOSITORY / f"Pulumi.{stack}.yaml").read_text()
    path = testenv.write_stack_file(directory, state, stack, Project())
    assert (REPOSITORY / f"Pulumi.{stack}.yaml").read_text() == committed
    written = yaml.safe_load(path.read_text())["config"]
    for key, value in yaml.safe_load(committed)["config"].items():
        if key.removeprefix("ameide-secrets:") not in {"vaultServer", "vaultManage", "readinessTimeoutSeconds"}:
            assert written[key] == value, key
    settings = testenv.stack_for(directory, stack).settings
    ports = state.clusters[stack]
    assert settings.vault_server == f"https://127.0.0.1:{ports.vault}"
    assert settings.vault_kubernetes_host == f"https://127.0.0.1:{ports.api}"
    assert settings.vault_kubernetes_ca_cert == PEM
    assert settings.vault_manage is False
    assert settings.refresh_interval == testenv.REFRESH_INTERVAL
    assert settings.kube_context == f"ameide-{stack}"


def test_state_when_saved_then_private_and_read_back(environment: tuple[Path, testenv.State]) -> None:
    directory, state = environment
    assert (directory / "state.json").stat().st_mode & 0o077 == 0
    assert testenv.State.load(directory) == state


def test_state_when_missing_then_error_names_the_directory_and_the_command(tmp_path: Path) -> None:
    with pytest.raises(testenv.TestEnvError, match=rf"{tmp_path}/state.json: no environment here .*lab.testenv up --dir"):
        testenv.State.load(tmp_path)


def test_exports_when_printed_then_shell_quoted_and_pointing_into_the_environment(
    environment: tuple[Path, testenv.State],
) -> None:
    directory, state = environment
    lines = testenv.exports(directory, "production").splitlines()
    values = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines)
    assert values["PULUMI_CONFIG_PASSPHRASE"] == state.passphrase
    assert values["VAULT_ADDR"] == f"https://127.0.0.1:{state.clusters['production'].vault}"
    assert values["VAULT_TOKEN"] == "root-production"
    assert values["KUBECONFIG"] == str(directory.resolve() / "kubeconfig")
    assert values["PULUMI_BACKEND_URL"] == f"file://{directory.resolve() / 'state'}"
    assert values["AMEIDE_TESTENV"] == str(directory.resolve())


@pytest.mark.parametrize("name", ["staging-etcd", "staging-vault", "staging-controller-manager", "qa-apiserver", "eso"])
def test_stop_when_not_an_api_server_or_eso_then_refused_naming_what_can_be(
    environment: tuple[Path, testenv.State], name: str
) -> None:
    directory, state = environment
    with pytest.raises(testenv.TestEnvError, match=rf"{name}: only <cluster>-apiserver, <cluster>-eso can be stopped"):
        testenv.stop(directory, state, name)


def test_stop_when_running_then_stopped_and_forgotten_on_disk_and_a_second_stop_says_so(
    environment: tuple[Path, testenv.State],
) -> None:
    directory, state = environment
    testenv._spawn(directory, state, "staging-eso", ["sleep", "60"])
    pid = state.pids["staging-eso"]
    with pytest.raises(testenv.TestEnvError, match="staging-eso is already running"):
        testenv.start(directory, state, "staging-eso")
    testenv.stop(directory, state, "staging-eso")
    assert not testenv._alive(pid)
    assert "staging-eso" not in testenv.State.load(directory).pids
    with pytest.raises(testenv.TestEnvError, match="staging-eso was not running"):
        testenv.stop(directory, state, "staging-eso")


def test_parse_metrics_when_vaults_prometheus_text_then_each_series_by_name_and_labels() -> None:
    text = (
        "# HELP vault_route_read_secret_ vault_route_read_secret_\n# TYPE vault_route_read_secret_ summary\n"
        'vault_route_read_secret_{quantile="0.5"} 0.24\nvault_route_read_secret__count 3\n'
        "vault_core_handle_request_count 6\n"
    )
    assert testenv.parse_metrics(text) == {
        'vault_route_read_secret_{quantile="0.5"}': 0.24,
        "vault_route_read_secret__count": 3.0,
        "vault_core_handle_request_count": 6.0,
    }
