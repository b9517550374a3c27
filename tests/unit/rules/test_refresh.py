"""rules/refresh.py: Go durations read as ESO reads them, and the platform's floor on how often ESO reads Vault."""

from __future__ import annotations

import pytest

from ameide_secrets.rules import refresh


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [("0", 0.0), ("1h", 3600.0), ("1h30m", 5400.0), ("90s", 90.0), ("1.5m", 90.0), ("250ms", 0.25), ("1ns", 1e-9)],
)
def test_seconds_when_go_duration_then_its_length(duration: str, seconds: float) -> None:
    assert refresh.seconds(duration) == pytest.approx(seconds)


@pytest.mark.parametrize("duration", ["", "1", "h", "1d", "1h 30m", "-1s", "1hx"])
def test_seconds_when_not_a_go_duration_then_refused(duration: str) -> None:
    with pytest.raises(ValueError, match="is not a Go duration"):
        refresh.seconds(duration)


@pytest.mark.parametrize(
    ("interval", "below"), [("1ns", True), ("59s", True), ("0.99m", True), ("0", False), ("60s", False), ("1h", False)]
)
def test_below_floor_problem_when_compared_with_one_minute_then_only_shorter_non_zero_intervals(
    interval: str, below: bool
) -> None:
    problem = refresh.below_floor_problem(interval, "1m")
    assert (problem is not None) is below
    if below:
        assert problem == (
            f"refresh interval {interval!r} is below the platform's floor '1m': ESO would re-read Vault that often for "
            "every tenant (use 1m or more, or '0' to read once)"
        )
