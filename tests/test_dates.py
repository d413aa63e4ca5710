"""Every date shape of the anatomy reference's table (§11), and the traps."""

from __future__ import annotations

import pytest

from newsarchive import dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11/09/2021 15:29", "2021-09-11T15:29:00+07:00"),  # sc-longform-header-date
        ("23/01/2024 - 17:55", "2024-01-23T17:55:00+07:00"),  # congly / seed
        ("05/05/2021 15:28 |", "2021-05-05T15:28:00+07:00"),  # trailing separator
        ("17:22 17/08/2025", "2025-08-17T17:22:00+07:00"),  # markettimes c-detail-head__time
        ("15-01-2024 13:04", "2024-01-15T13:04:00+07:00"),  # nguoiquansat old template
        ("Thứ hai, 17/08/2025 - 10:30", "2025-08-17T10:30:00+07:00"),
        ("Chủ Nhật, 17/08/2025 10:30", "2025-08-17T10:30:00+07:00"),
        ("14/09/2026 11:20", "2026-09-14T11:20:00+07:00"),  # listing / API
        ("01/10/2026 21:09:07", "2026-10-01T21:09:07+07:00"),
    ],
)
def test_visible_day_first_shapes(text: str, expected: str) -> None:
    assert dates.parse_visible(text) == expected
    assert dates.parse_known(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9/11/2021 3:29:47 PM", "2021-09-11T15:29:47+07:00"),  # 11 September, not 9 November
        ("5/5/2021 3:28:00 PM", "2021-05-05T15:28:00+07:00"),
        ("1/8/2026 10:02:01 AM", "2026-01-08T10:02:01+07:00"),
        ("9/16/2026 5:25:01 AM", "2026-09-16T05:25:01+07:00"),
        ("12/1/2026 12:05:00 AM", "2026-12-01T00:05:00+07:00"),  # 12 AM is midnight
        ("12/1/2026 12:05:00 PM", "2026-12-01T12:05:00+07:00"),
    ],
)
def test_us_meta_format(text: str, expected: str) -> None:
    assert dates.parse_us(text) == expected


def test_iso_shapes() -> None:
    assert dates.parse_iso("2021-09-11T15:29:47+07:00") == "2021-09-11T15:29:47+07:00"
    assert dates.parse_iso("2021-09-11T08:29:47Z") == "2021-09-11T15:29:47+07:00"  # a real Z is UTC
    assert dates.parse_iso("2021-09-11T15:29:47Z", fake_z=True) == "2021-09-11T15:29:47+07:00"  # WebControl
    assert dates.parse_iso("2021-09-11T10:29:47+02:00") == "2021-09-11T15:29:47+07:00"
    assert dates.parse_iso("2021-09-11 15:29") == "2021-09-11T15:29:00+07:00"


def test_rfc822_rss_pubdate() -> None:
    assert dates.parse_known("Thu, 24 Sep 2026 08:30:01 +0700") == "2026-09-24T08:30:01+07:00"
    assert dates.parse_known("Thu, 24 Sep 2026 01:30:01 GMT") == "2026-09-24T08:30:01+07:00"


@pytest.mark.parametrize(
    "text",
    ["", "Thứ Hai, 23/01/2024", "6 giờ trước", "vừa xong", "Hôm qua", "31/02/2024 10:00", "2024-13-01T00:00:00",
     "13/25/2024 1:00:00 PM", "not a date", "99:99 01/01/2024", "23/01/2024"],
)
def test_no_date_is_guessed(text: str) -> None:
    assert dates.parse_any(text) is None


def test_dateparser_is_only_a_last_resort_for_absolute_dates() -> None:
    assert dates.parse_any("23 tháng 1 năm 2024 17:55") == "2024-01-23T17:55:00+07:00"
