"""checkpoints.py: PULUMI_SKIP_CHECKPOINTS for a preview only, never inherited by an up."""

from __future__ import annotations

import pytest

from ameide_secrets import checkpoints


@pytest.mark.parametrize(
    ("command", "inherited", "expected"),
    [
        ("preview", {}, "true"),
        ("preview", {"PULUMI_SKIP_CHECKPOINTS": "false"}, "true"),
        ("up", {}, None),
        ("up", {"PULUMI_SKIP_CHECKPOINTS": "true"}, None),  # a skip leaking from the caller is removed
        ("refresh", {"PULUMI_SKIP_CHECKPOINTS": "1"}, None),
        ("destroy", {"PULUMI_SKIP_CHECKPOINTS": "true"}, None),
        ("stack", {}, None),
    ],
)
def test_environment_when_command_given_then_checkpoints_skipped_only_for_a_preview(
    command: str, inherited: dict[str, str], expected: str | None
) -> None:
    env = checkpoints.environment(command, {"PATH": "/bin", **inherited})
    assert env.get(checkpoints.VARIABLE) == expected
    assert env["PATH"] == "/bin"
