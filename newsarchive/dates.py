"""Article dates: every known OneCMS shape by explicit patterns, dateparser only as the last resort.

All results are ISO 8601 strings ``YYYY-MM-DDTHH:MM:SS+HH:MM`` in the site's own offset.
Nothing here ever guesses: a string that is not recognised gives ``None``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

VN = timezone(timedelta(hours=7))

# A date from the web is believed only inside this range (docs/security.md): no Vietnamese news site
# predates 1990, and an article time more than a day ahead of the clock is a CMS or hostile error (a
# day covers a misread offset, at most 14 hours, and clock skew). Outside it the date is absent.
EARLIEST = datetime(1990, 1, 1, tzinfo=VN)
FUTURE_TOLERANCE = timedelta(days=1)

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
# dd/MM/yyyy[ - |, ]HH:mm[:ss], also with "-" or "." between the date parts
_DMY_HM = re.compile(
    r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*(?:[-–|,]\s*)?(\d{1,2})[:hg](\d{2})(?::(\d{2}))?\s*\|?\s*$"
)
_HM_DMY = re.compile(
    r"^\s*(\d{1,2})[:hg](\d{2})(?::(\d{2}))?\s*(?:[-–|,]\s*)?(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*\|?\s*$"
)
# US format of OneCMS's article:published_time meta: M/d/yyyy h:mm:ss AM|PM (local time)
_US = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])\s*$")
_WEEKDAY = re.compile(r"^\s*(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy|2|3|4|5|6|7)|chủ\s+nhật|cn|t[2-7])\s*,?\s*", re.I)
_CLOCK = re.compile(r"\d{1,2}[:hg]\d{2}")
_WORD3 = re.compile(r"[^\W\d_]{3,}")
_RFC822 = re.compile(r"^\s*(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}")


def iso(dt: datetime, tz: timezone = VN) -> str:
    """ISO 8601 with seconds in the given offset."""
    return dt.astimezone(tz).replace(microsecond=0).isoformat()


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def utc_iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def in_range(value: datetime, now: datetime | None = None) -> bool:
    """Whether an (aware) article time is believable at ``now`` (default: the clock)."""
    try:
        return EARLIEST <= value <= (now or datetime.now(UTC)) + FUTURE_TOLERANCE
    except (TypeError, OverflowError):
        return False


def sane(text: str | None, now: datetime | None = None) -> str | None:
    """An ISO 8601 time taken from the web, or None when it is unreadable or out of range."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=VN)
    return text if in_range(value, now) else None


def _mk(y: int, mo: int, d: int, h: int, mi: int, s: int, tz: timezone) -> datetime | None:
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=tz)
    except ValueError:
        return None


def parse_iso(text: str, tz: timezone = VN, fake_z: bool = False) -> str | None:
    """ISO 8601. A naive value is local time; ``fake_z`` reads a trailing Z as local time
    (OneCMS's ``WebControl.item_published_time``)."""
    m = _ISO.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s, zone = m.groups()
    if zone is None or (zone == "Z" and fake_z):
        off = tz
    elif zone == "Z":
        off = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        off = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    dt = _mk(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), off)
    return iso(dt, tz) if dt else None


def parse_us(text: str, tz: timezone = VN) -> str | None:
    """``M/d/yyyy h:mm:ss AM|PM`` in local time (OneCMS ``article:published_time``)."""
    m = _US.match(text)
    if not m:
        return None
    mo, d, y, h, mi, s, ampm = m.groups()
    hour = int(h) % 12 + (12 if ampm.lower() == "pm" else 0)
    if int(h) > 12:
        return None
    dt = _mk(int(y), int(mo), int(d), hour, int(mi), int(s or 0), tz)
    return iso(dt, tz) if dt else None


def parse_visible(text: str, tz: timezone = VN) -> str | None:
    """Visible day-first shapes: ``dd/MM/yyyy HH:mm``, ``dd/MM/yyyy - HH:mm``, ``HH:mm dd/MM/yyyy``,
    ``dd-MM-yyyy HH:mm``, with an optional weekday prefix and trailing ``|``."""
    text = _WEEKDAY.sub("", text.replace("\xa0", " "))
    m = _DMY_HM.match(text)
    if m:
        d, mo, y, h, mi, s = m.groups()
    else:
        m = _HM_DMY.match(text)
        if not m:
            return None
        h, mi, s, d, mo, y = m.groups()
    dt = _mk(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tz)
    return iso(dt, tz) if dt else None


def parse_rfc822(text: str, tz: timezone = VN) -> str | None:
    if not _RFC822.match(text):
        return None
    try:
        dt = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return iso(dt, tz)


def parse_known(text: str | None, tz: timezone = VN) -> str | None:
    """Every explicit shape; ``None`` when the text is none of them."""
    if not text:
        return None
    return parse_iso(text, tz) or parse_visible(text, tz) or parse_us(text, tz) or parse_rfc822(text, tz)


def parse_any(text: str | None, tz: timezone = VN) -> str | None:
    """Known shapes, then dateparser (day first, absolute dates with a time of day only: a bare
    date or a relative label such as "6 giờ trước" is not an article time we can trust)."""
    if not text or len(text) > 80:
        return None
    known = parse_known(text, tz)
    # numeric shapes are all covered above: dateparser only for spelled-out months
    if known or not _CLOCK.search(text) or not _WORD3.search(text):
        return known
    import dateparser  # slow to import and to run: last resort only

    dt = dateparser.parse(
        text,
        languages=["vi", "en"],
        settings={
            "DATE_ORDER": "DMY",
            "PARSERS": ["absolute-time"],
            "STRICT_PARSING": True,
            "REQUIRE_PARTS": ["day", "month", "year"],
            "TIMEZONE": "+0700",
            "RETURN_AS_TIMEZONE_AWARE": True,
        },
    )
    return iso(dt, tz) if dt else None
