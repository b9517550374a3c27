"""Vault keeps namespaces apart by itself (referent auth), on a real OpenBao: no admission policy involved.

Each real stack's Vault side is set up from `vault_config` as `VaultAccess` registers it: the
kubernetes auth mount and its config, ESO's role, one read policy and one identity entity per
admitted namespace owning the login alias `<namespace>/<account>`. Then ESO's login is replayed as
ESO makes it — a service-account token of the store's account *in the ExternalSecret's namespace*
(minted by the TokenReview stand-in, tests/e2e/tokenreview.py), `auth/<mount>/login` with the role —
and the token is tried on every seeded key.
"""

from __future__ import annotations

import pytest

from lab.vault import VaultClient

from .conftest import SeededStack
from .tokenreview import TokenReviewer

REFUSED = 403


def login(
    seeded: SeededStack, reviewer: TokenReviewer, namespace: str, account: str | None = None, audience: str | None = None
) -> tuple[int, VaultClient | None]:
    """ESO's login for an ExternalSecret in `namespace`: a token of the store's account there, for the store's audience."""
    settings = seeded.settings
    jwt = reviewer.mint(
        namespace,
        account or settings.reviewer_service_account,
        [audience or settings.vault_audience or "https://kubernetes.default.svc"],
    )
    status, answer = seeded.root.request(
        "POST", f"auth/{settings.vault_auth_mount}/login", {"role": settings.vault_role, "jwt": jwt}
    )
    return status, (seeded.root.as_token(answer["auth"]["client_token"]) if status == 200 else None)


def declared_in(seeded: SeededStack, namespace: str) -> list[str]:
    prefixes = tuple(g.prefix for g in seeded.grants if g.namespace == namespace)
    return [key for key in seeded.declared if key.startswith(prefixes)]


def test_login_when_namespace_admitted_then_reads_its_own_keys_and_no_other_namespace_s(
    seeded_stack: SeededStack, reviewer: TokenReviewer, vault_side: list[str]
) -> None:
    assert len(vault_side) >= 2  # ameide and monitoring: the separation is between them
    for namespace in vault_side:
        status, client = login(seeded_stack, reviewer, namespace)
        assert status == 200, namespace
        assert client is not None
        own = declared_in(seeded_stack, namespace)
        others = [key for key in seeded_stack.declared if key not in own]
        assert own
        assert others
        unreadable = [key for key in own if client.request("GET", f"{seeded_stack.mount}/data/{key}")[0] != 200]
        leaked = [key for key in others if client.request("GET", f"{seeded_stack.mount}/data/{key}")[0] != REFUSED]
        assert (unreadable, leaked) == ([], []), namespace


def test_login_when_token_carries_no_default_policy_then_it_cannot_even_look_itself_up(
    seeded_stack: SeededStack, reviewer: TokenReviewer, vault_side: list[str]
) -> None:
    _, client = login(seeded_stack, reviewer, vault_side[0])
    assert client is not None
    assert client.request("GET", "auth/token/lookup-self")[0] == REFUSED
    assert client.request("POST", "auth/token/create", {})[0] == REFUSED


@pytest.mark.parametrize(
    ("case", "namespace", "account", "audience"),
    [
        ("namespace not admitted", "argocd", None, None),
        ("another service account", None, "default", None),
        ("the API server's audience", None, None, "https://kubernetes.default.svc"),
    ],
)
def test_login_when_identity_is_not_the_stores_then_refused(
    seeded_stack: SeededStack,
    reviewer: TokenReviewer,
    vault_side: list[str],
    case: str,
    namespace: str | None,
    account: str | None,
    audience: str | None,
) -> None:
    status, _ = login(seeded_stack, reviewer, namespace or vault_side[0], account, audience)
    assert status in (400, 403), case
