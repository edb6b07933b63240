"""The time zones a reader may pick for their digest hour: a short list of common zones and whole UTC offsets.

A zone is stored as text: an IANA name from `COMMON_ZONES`, or a fixed offset written `UTC+08:00` /
`UTC-05:00` (whole hours from -12 to +14). Anything else stored reads as the default zone (TIME_ZONE).
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
)
OFFSETS = tuple(range(-12, 15))
_OFFSET = re.compile(r"UTC([+-])(\d{2}):00")


def offset_name(hours: int) -> str:
    """`UTC+08:00` for 8, `UTC-05:00` for -5."""
    return f"UTC{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"


def is_known(name: str) -> bool:
    """Whether a reader may pick this zone."""
    return name in COMMON_ZONES or any(name == offset_name(hours) for hours in OFFSETS)


def zone_of(name: str | None, default: tzinfo) -> tzinfo:
    """The zone a stored name stands for; `default` for None or a name no longer offered."""
    if name is None or not is_known(name):
        return default
    match = _OFFSET.fullmatch(name)
    if match is not None:
        hours = int(match[2]) * (1 if match[1] == "+" else -1)
        return timezone(timedelta(hours=hours), name)
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return default
