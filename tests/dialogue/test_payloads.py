"""Numbers and points that come back in payloads and commands: what they may be, or nothing."""

from __future__ import annotations

import math

import pytest

from bot.dialogue.payloads import small_int
from bot.dialogue.referral import Point, decode_point, encode_point, valid_point


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("7", 7), ("007", 7), ("9" * 9, 999999999)])
def test_small_int_reads_up_to_nine_ascii_digits(text: str, number: int) -> None:
    assert small_int(text) == number


@pytest.mark.parametrize(
    "text",
    ["", "9" * 10, "99999999999999999999", "²", "２", "٣", "-1", "+1", " 1", "1 ", "1_0", "1.0"],
)
def test_small_int_refuses_anything_else(text: str) -> None:
    assert small_int(text) is None


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(None, 36.8), (-1.2, None), (90.01, 0.0), (0.0, -180.01), (math.nan, 0.0), (0.0, math.inf)],
)
def test_a_point_off_the_globe_is_no_point(lat: float | None, lon: float | None) -> None:
    assert valid_point(lat, lon) is None


def test_every_point_on_the_globe_fits_a_payload_and_comes_back() -> None:
    for lat, lon in ((-90.0, -180.0), (90.0, 180.0), (-1.2833, 36.8167), (-0.0, 1e-300)):
        point = valid_point(lat, lon)
        assert point is not None
        encoded = encode_point(point)
        assert len(f"near:emergency_contraception:{encoded},500".encode()) <= 64
        assert decode_point(f"{encoded},500") == (Point(round(lat, 3), round(lon, 3)), 500)


def test_a_point_off_the_globe_is_never_encoded() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_point(Point(1e26, 0.0))
