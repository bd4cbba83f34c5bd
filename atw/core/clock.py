"""Time from the clock: bookkeeping instants as naive UTC, and file times in an explicit zone.

Imported by every layer of atw and by pipelines (it depends on nothing of either)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCAL = "local"  # FILE_TIME_ZONE value meaning "the indexing machine's own zone"


class UnknownZone(ValueError):
    """FILE_TIME_ZONE names no time zone this machine knows."""


def utcnow() -> datetime:
    """Now, as a naive UTC datetime to the second. Every bookkeeping instant atw stores (index
    runs, first seen, missing since, quarantined at, labelled at, uploaded at) is one of these,
    whatever the machine's or the process's time zone."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def zone_name(setting: str | None = LOCAL) -> str:
    """The IANA zone that a FILE_TIME_ZONE setting names. "local" (or empty) is this machine's
    zone as the TZ variable, else /etc/localtime, says (read by tzlocal); anything else must be
    a zone name such as "Europe/Lisbon" or "UTC". Raises UnknownZone."""
    name = (setting or LOCAL).strip()
    if name.lower() == LOCAL:
        import tzlocal

        try:
            name = tzlocal.get_localzone_name() or "UTC"
        except Exception:  # tzlocal found no usable zone: the C library's default is UTC too
            name = "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownZone(
            f"FILE_TIME_ZONE: unknown time zone {setting!r} (use an IANA name such as "
            "Europe/Lisbon or UTC, or local for this machine's zone)"
        ) from None
    return name


def file_time(mtime_ns: int, zone: str) -> tuple[datetime, str]:
    """A file's modification time (ns since the epoch) as the naive wall-clock time in `zone`
    (an IANA name), to the second, and that zone's UTC offset at that instant ("+01:00")."""
    aware = datetime.fromtimestamp(mtime_ns // 1_000_000_000, ZoneInfo(zone))
    return aware.replace(tzinfo=None), format_offset(aware.utcoffset() or timedelta(0))


def format_offset(off: timedelta) -> str:
    """A UTC offset as "+HH:MM" / "-HH:MM" (whole minutes)."""
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
