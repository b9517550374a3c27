"""rules/rotation.py: rotation bounds (`rotate_within`, `--max-age`) read in weeks, days, hours, minutes, seconds."""

from __future__ import annotations

import pytest

from ameide_secrets.rules import rotation


@pytest.mark.parametrize(
    ("bound", "seconds"),
    [("90d", 90 * 86400), ("12w", 84 * 86400), ("1d12h", 129600), ("30m", 1800), ("2s", 2), ("1w2d3h4m5s", 788645)],
)
def test_seconds_when_a_bound_then_its_length(bound: str, seconds: int) -> None:
    assert rotation.seconds(bound) == seconds
    assert rotation.duration_problem(bound) is None


# Go's `1h30m` form is fine, but not its fractions or sub-second units; nor a unit out of order, nor zero.
@pytest.mark.parametrize("bound", ["", "90", "d", "1.5d", "90 d", "12h1d", "500ms", "0d", "0s", "-1d", "90D", "P90D"])
def test_seconds_when_not_a_bound_then_refused_naming_the_form(bound: str) -> None:
    with pytest.raises(ValueError, match=r'must be a duration such as "90d"'):
        rotation.seconds(bound)
    assert rotation.duration_problem(bound) is not None


@pytest.mark.parametrize(
    ("seconds", "spelled"), [(0, "0s"), (59.9, "59s"), (3600, "1h"), (90061, "1d1h"), (97 * 86400 + 4 * 3600 + 5, "97d4h")]
)
def test_spelled_when_an_age_then_its_two_largest_units_in_days_at_most(seconds: float, spelled: str) -> None:
    assert rotation.spelled(seconds) == spelled
