"""Durations as operators type them: ``90s``, ``15m``, ``24h``, ``7d``.

Plain Python (no Django import) so that settings can use it while they are being read.
"""

import re
from datetime import timedelta

_DURATION = re.compile(r"^([0-9]{1,9})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``<digits><unit>``; raise ``ValueError`` with a message an operator can act on."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"invalid duration {text!r}: use a number and a unit, like 90s, 15m, 24h or 7d")
    amount, unit = match.groups()
    try:
        return timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])
    except OverflowError as error:
        raise ValueError(f"invalid duration {text!r}: far too long") from error


def format_duration(value: timedelta) -> str:
    """The shortest exact ``DUR`` spelling of ``value`` (whole seconds)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
