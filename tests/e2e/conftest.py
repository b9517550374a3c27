"""Fixtures of the e2e layer: a real OpenBao server, and a real stack's Vault side seeded on it."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import pytest

from ameide_secrets.declare.inventory import Grant
from ameide_secrets.declare.settings import StackSettings
from ameide_secrets.project import Project
from ameide_secrets.render import vault_plan
from lab import testenv, vault
from lab.vault import VaultClient
from lab.vault import random_value as canary

from .cluster import Environment
from .openbao import DevServer, bao_binary, dev_server
from .tokenreview import TokenReviewer, token_reviewer

STACKS = ["staging", "production"]
# A prefix no workload can declare (workload names are DNS labels: no "zz-not-declared" module exists).
UNDECLARED = "zz-not-declared/x"


@pytest.fixture(scope="session")
def openbao() -> Iterator[DevServer]:
    """One OpenBao dev server for the session; the root token is for test setup only."""
    binary = bao_binary()
    if not binary.is_file():
        # Fail, not skip: a skipped e2e suite looks green in CI.
        pytest.fail(f"OpenBao binary not found at {binary} (set AMEIDE_ENGINES or run `make engines`)", pytrace=False)
    with dev_server(binary) as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that used a server shows its log: what the engine saw is the diagnosis."""
    report = yield
    arguments = getattr(item, "funcargs", {})
    server, environment = arguments.get("openbao"), arguments.get("env")
    if report.failed and isinstance(server, DevServer):
        report.sections.append(("OpenBao server log", server.log()))
    if report.failed and isinstance(environment, Environment):
        # The scenario's processes: what ESO, the API servers and Vault saw is the diagnosis.
        for name in environment.state.pids:
            report.sections.append((f"{name} log (tail)", testenv.log_tail(environment.directory, name, 15)))
    return report


@dataclass(frozen=True)
class SeededStack:
    """A stack's KV mount seeded on the server, its generated policy put, and a token carrying only it.

    The seeded values stay out of its repr: pytest prints a failing test's fixture arguments.
    """

    stack: str
    settings: StackSettings
    grants: list[Grant]
    policy: str = field(repr=False)
    root: VaultClient
    reader: VaultClient
    declared: dict[str, dict[str, str]] = field(repr=False)
    """Every key the stack's ExternalSecrets read -> its seeded properties (canary values)."""
    outside: dict[str, dict[str, dict[str, str]]] = field(repr=False)
    """Kind of outside key -> key -> seeded properties: what the token must not read."""

    @property
    def mount(self) -> str:
        return self.settings.vault_kv_mount

    def canaries(self) -> dict[str, str]:
        """`key/property` -> value, of every seeded secret."""
        seeded = [self.declared, *self.outside.values()]
        return {f"{key}/{name}": value for keys in seeded for key, data in keys.items() for name, value in data.items()}


def outside_keys(prefixes: list[str]) -> dict[str, list[str]]:
    """Keys next to the declared prefixes that no grant covers, by kind."""
    kinds = {
        "undeclared prefix": [UNDECLARED],
        # `keycloak-evil/x` starts with `keycloak` but not with `keycloak/`.
        "sibling without slash": [f"{prefix.removesuffix('/')}-evil/x" for prefix in prefixes],
        # The key `keycloak` itself, not under `keycloak/`.
        "prefix as a key": [prefix.removesuffix("/") for prefix in prefixes],
    }
    covered = sorted(key for keys in kinds.values() for key in keys if key.startswith(tuple(prefixes)))
    assert not covered, f"outside keys a declared prefix covers (pick other names): {covered}"
    return kinds


@pytest.fixture(scope="module", params=STACKS)
def seeded_stack(request: pytest.FixtureRequest, openbao: DevServer) -> SeededStack:
    """The stack's declarations as `__main__.py` reads them, its policy from `vault_plan.acl_policy` on the server."""
    stack: str = request.param
    computed = Project().stack(stack)
    settings, grants = computed.settings, computed.grants
    policy = vault_plan.acl_policy(settings, grants)
    declared = {key: {name: canary() for name in names} for key, names in vault.read_properties(computed.manifests).items()}
    outside = {
        kind: {key: {vault.WHOLE_SECRET_PROPERTY: canary()} for key in keys}
        for kind, keys in outside_keys(sorted({grant.prefix for grant in grants})).items()
    }

    root = openbao.client()
    # Each stack gets a fresh mount: nothing seeded for another stack can make a read pass.
    root.enable_kv2(settings.vault_kv_mount)
    for keys in [declared, *outside.values()]:
        for key, data in keys.items():
            root.write_kv2(settings.vault_kv_mount, key, data)
    root.put_policy(vault_plan.policy_name(settings), policy)
    reader = root.as_token(root.create_token([vault_plan.policy_name(settings)]))
    return SeededStack(stack, settings, grants, policy, root, reader, declared, outside)


@pytest.fixture(scope="module")
def reviewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenReviewer]:
    """The TokenReview stand-in that Vault's kubernetes auth reviews ESO's tokens against."""
    with token_reviewer(tmp_path_factory.mktemp("tokenreview")) as served:
        yield served


@pytest.fixture(scope="module")
def vault_side(seeded_stack: SeededStack, reviewer: TokenReviewer) -> list[str]:
    """The stack's kubernetes auth, role, per-namespace policies and identities on the server; its admitted namespaces."""
    # The stand-in plays the API server at vaultKubernetesHost: only its address and CA differ.
    return vault.apply_stack(seeded_stack.root, Project().stack(seeded_stack.stack), reviewer.url, reviewer.ca_pem)
