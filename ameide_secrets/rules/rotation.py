"""How old a Vault key's current version may grow before it is rotated: `rotate_within` and `vault-check --max-age`.

A bound is a rotation duration: whole numbers of weeks, days, hours, minutes or seconds, largest unit
first (`90d`, `12w`, `1d12h`, `30s`). Not a Go duration: ESO never reads it, and rotation is counted in
days, which Go durations cannot spell. `vault-check --max-age` compares it with the age of the version
of each key a stack reads, from KV v2 metadata alone (checks/key_ages.py).
"""

from __future__ import annotations

import re

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?")
_PART = re.compile(r"([0-9]+)([wdhms])")


_FORM = 'must be a duration such as "90d", "12w" or "1d12h" (units w, d, h, m, s, largest first; not zero)'


def seconds(value: str) -> int:
    """The length of the rotation bound `value` in seconds; ValueError naming the expected form otherwise."""
    total = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(value))
    if not _DURATION.fullmatch(value) or total == 0:
        raise ValueError(f"{value!r} {_FORM}")
    return total


def duration_problem(value: str) -> str | None:
    """Why `value` is not a rotation bound, or None."""
    try:
        seconds(value)
    except ValueError:
        return _FORM
    return None


def spelled(total: float) -> str:
    """An age in seconds as a bound is written, to its two largest units and in days at most (`97d4h`, `3m12s`)."""
    remaining, parts = int(total), []
    for unit in "dhms":
        if remaining >= _UNIT_SECONDS[unit]:
            parts.append(f"{remaining // _UNIT_SECONDS[unit]}{unit}")
            remaining %= _UNIT_SECONDS[unit]
    return "".join(parts[:2]) or "0s"
