"""`ameide-secrets vault-check` against a real OpenBao: missing keys and properties found, values never shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from ameide_secrets.project import REPOSITORY
from ameide_secrets.render import vault_plan

from .conftest import SeededStack


def run_check(seeded: SeededStack, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAULT_ADDR": seeded.root.address, "VAULT_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "ameide_secrets", "vault-check", "--stack", seeded.stack, *args],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_vault_check_when_keys_present_then_clean_and_when_removed_then_each_named_without_values(
    seeded_stack: SeededStack,
) -> None:
    root = seeded_stack.root
    clean = run_check(seeded_stack, root.token)
    assert (clean.returncode, clean.stderr) == (0, "")
    assert clean.stdout.strip().endswith(f"checked in stack {seeded_stack.stack}: 0 missing")

    # One key gone, one property gone: as an operator who forgot a `vault kv put` would leave it.
    with_property = sorted(key for key, data in seeded_stack.declared.items() if len(data) > 1)[0]
    gone = sorted(key for key in seeded_stack.declared if key != with_property)[0]
    assert root.request("DELETE", f"{seeded_stack.mount}/metadata/{gone}")[0] == 204
    kept = dict(sorted(seeded_stack.declared[with_property].items())[1:])
    dropped = sorted(seeded_stack.declared[with_property])[0]
    root.write_kv2(seeded_stack.mount, with_property, kept)

    broken = run_check(seeded_stack, root.token)
    assert broken.returncode == 1
    lines = broken.stdout.splitlines()
    assert any(f"key {gone!r} does not exist in Vault" in line and line.startswith("workloads/") for line in lines)
    assert any(f"key {with_property!r} has no property {dropped!r}" in line for line in lines)
    as_json = run_check(seeded_stack, root.token, "--format", "json")
    assert {(m["extra"]["key"], m["extra"]["property"]) for m in json.loads(as_json.stdout)} >= {(with_property, dropped)}

    # A token that may not read the keys is told so, not told they are missing.
    outsider = root.as_token(root.create_token(["default"]))
    refused = run_check(seeded_stack, outsider.token)
    assert refused.returncode == 1
    assert "this token may not read key" in refused.stdout

    output = "\n".join(p.stdout + p.stderr for p in (clean, broken, as_json, refused))
    assert not [name for name, value in seeded_stack.canaries().items() if value in output]


def test_vault_check_when_vault_unreachable_then_exit_1_saying_where(seeded_stack: SeededStack) -> None:
    env = {**os.environ, "VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "x"}
    completed = subprocess.run(
        [sys.executable, "-m", "ameide_secrets", "vault-check", "--stack", seeded_stack.stack],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 1
    assert completed.stderr.startswith("cannot reach Vault at http://127.0.0.1:9")


def test_vault_check_when_max_age_with_the_audit_token_then_every_overdue_key_by_name_and_no_value(
    seeded_stack: SeededStack,
) -> None:
    root, settings = seeded_stack.root, seeded_stack.settings
    # The test above deleted a key and a property: every declared key as seeded again (a new version each).
    for key, data in seeded_stack.declared.items():
        root.write_kv2(seeded_stack.mount, key, data)
    name = vault_plan.audit_policy_name(settings)
    root.put_policy(name, vault_plan.audit_policy(settings, seeded_stack.grants))
    auditor = root.create_token([name])
    fresh = run_check(seeded_stack, auditor, "--max-age", "1h")
    assert (fresh.returncode, fresh.stderr) == (0, ""), fresh.stdout
    time.sleep(2)
    stale = run_check(seeded_stack, auditor, "--max-age", "1s", "--format", "json")
    assert stale.returncode == 1, stale.stderr
    overdue = {f["extra"]["key"] for f in json.loads(stale.stdout)}
    assert overdue == set(seeded_stack.declared)
    # With the reader's token (data, no metadata), ages cannot be read: it says so rather than guessing.
    refused = run_check(seeded_stack, seeded_stack.reader.token, "--max-age", "1h")
    assert refused.returncode == 1
    assert "may not read the metadata" in refused.stdout
    output = "\n".join(p.stdout + p.stderr for p in (fresh, stale, refused))
    assert not [key for key, value in seeded_stack.canaries().items() if value in output]
