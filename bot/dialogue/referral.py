"""Referral: which service, where, then the nearest facilities that record it.

A precise location is used for one search and never stored: the conversation state keeps only the
service being looked for, and the point searched travels in the "show more" button's payload (it
stays in the young person's own chat). Typed places are resolved by the gazetteer; a shared pin is
used as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.content.render import Format, Renderer
from bot.dialogue import payloads
from bot.dialogue.messages import Button, Reply
from bot.referral.directory import Directory, Match, in_kenya, map_link
from bot.referral.places import Gazetteer, Place

PAGE = 5
NEAR_KM = 50.0
MAX_OFFSET = 500  # "show more" pages a forged payload may ask for
# The service buttons, in the order young people most often need them.
CHOICES = (
    "hiv_testing",
    "prep",
    "pep",
    "condoms",
    "family_planning",
    "emergency_contraception",
    "sti_care",
    "gbv_care",
    "mental_health",
    "youth_friendly",
    "antenatal",
    "art",
)
# Needs that cannot wait: facilities open 24 hours come first, and the answer says why.
TIME_CRITICAL = frozenset({"pep", "emergency_contraception", "gbv_care", "emergency"})


@dataclass(frozen=True, slots=True)
class Point:
    """Where to search from: coordinates and, for a typed place, its name."""

    lat: float
    lon: float
    name: str = ""


def valid_point(lat: float | None, lon: float | None) -> Point | None:
    """A point on Earth; None for a missing, out-of-range, NaN or infinite coordinate."""
    if lat is None or lon is None:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # NaN fails any comparison
        return None
    return Point(lat, lon)


def encode_point(point: Point) -> str:
    """`-0.527,34.457`: three decimals (~100 m) fit a button payload (for a `valid_point`)."""
    if valid_point(point.lat, point.lon) is None:
        raise ValueError("point out of range")
    return f"{point.lat:.3f},{point.lon:.3f}"


def decode_point(raw: str) -> tuple[Point, int] | None:
    """`lat,lon[,offset]` from a payload; None for anything forged or out of range."""
    parts = raw.split(",")
    if len(parts) not in (2, 3):
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    point = valid_point(lat, lon)
    offset = payloads.small_int(parts[2]) if len(parts) == 3 else 0
    if point is None or offset is None or offset > MAX_OFFSET:
        return None
    return point, offset


class Referral:
    """Builds every referral reply; holds no per-user state."""

    def __init__(self, directory: Directory, gazetteer: Gazetteer, renderer: Renderer) -> None:
        self._directory = directory
        self._gazetteer = gazetteer
        self._render = renderer

    @staticmethod
    def known_service(service: str) -> bool:
        """Whether `service` is one the bot can search for."""
        return service in CHOICES or service == "emergency"

    def county_of(self, point: Point) -> str | None:
        """The county of the facility nearest to `point` (for counts by county, nothing finer)."""
        if not in_kenya(point.lat, point.lon):
            return None
        nearest = self._directory.nearest(point.lat, point.lon, (), limit=1, max_km=60.0)
        return nearest[0].facility.county or None if nearest else None

    def ask_service(self, fmt: Format, language: str, point: Point | None = None) -> Reply:
        """ "Which service?" as buttons (carrying the shared point, if there is one)."""
        where = encode_point(point) if point is not None else ""
        buttons = [
            Button(self._label(service, language), payloads.encode("svc", service, where))
            for service in CHOICES
        ]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((self._menu_button(language),))
        body = self._render.ui("referral_which_service", language)
        return Reply(self._render.message(fmt, body), tuple(rows))

    def ask_place(self, fmt: Format, language: str, service: str) -> Reply:
        """ "Where are you?": a share-my-location button, or type a place."""
        body = self._render.ui("referral_where", language)
        title = self._label(service, language)
        return Reply(
            self._render.message(fmt, body, title=title),
            request_location=self._render.ui("referral_share_location", language),
        )

    def resolve(self, text: str) -> tuple[Point | None, tuple[Place, ...], tuple[str, ...]]:
        """A typed place: one point, or candidates (ambiguous), or suggestions (unknown)."""
        resolution = self._gazetteer.resolve(text)
        if resolution.place is not None:
            place = resolution.place
            return Point(place.lat, place.lon, _place_label(place)), (), ()
        return None, resolution.candidates, resolution.suggestions

    def which_place(
        self, fmt: Format, language: str, service: str, candidates: tuple[Place, ...]
    ) -> Reply:
        """Several places share the name: one button each."""
        rows = [
            (
                Button(
                    _place_label(place),
                    payloads.encode("near", service, encode_point(Point(place.lat, place.lon))),
                ),
            )
            for place in candidates[:5]
        ]
        rows.append((self._menu_button(language),))
        body = self._render.ui("referral_which_place", language)
        return Reply(self._render.message(fmt, body), tuple(rows))

    def unknown_place(self, fmt: Format, language: str, suggestions: tuple[str, ...]) -> Reply:
        """A place the gazetteer does not know: suggestions, or ask for a nearby town."""
        key = "referral_unknown_place_suggest" if suggestions else "referral_unknown_place"
        body = self._render.ui(key, language)
        if suggestions:
            body += "\n" + "\n".join(f"• {name}" for name in suggestions)
        return Reply(
            self._render.message(fmt, body),
            request_location=self._render.ui("referral_share_location", language),
        )

    def results(
        self, fmt: Format, language: str, service: str, point: Point, offset: int = 0
    ) -> Reply:
        """The nearest facilities for `service` around `point`, a page at a time."""
        if not in_kenya(point.lat, point.lon):
            return self._outside_kenya(fmt, language)
        proxies = self._directory.proxies(service)  # the list does not record this service
        searched = proxies or (service,)
        urgent = service in TIME_CRITICAL
        notes = [self._render.ui(f"referral_note_{service}", language)] if proxies else []
        matches = self._nearest(searched, point, offset, NEAR_KM, urgent)
        if not matches and offset == 0:
            matches = self._nearest(searched, point, offset, None, urgent)
            if matches:
                notes.append(self._render.ui("referral_widened", language))
        if not matches:
            key = "referral_no_more" if offset else "referral_none"
            return Reply(
                self._render.message(fmt, self._render.ui(key, language)),
                ((self._menu_button(language),),),
            )
        if urgent:
            notes.append(self._render.ui("referral_24h_first", language))
        text = self._render.page(
            fmt,
            "services",
            title=self._label(service, language),
            place=point.name,
            notes=notes,
            facilities=[self._facility(m, language) for m in matches],
            labels=self._labels(language),
        )
        rows: list[tuple[Button, ...]] = []
        if len(matches) == PAGE:
            more = payloads.encode("near", service, f"{encode_point(point)},{offset + PAGE}")
            rows.append((Button(self._render.ui("referral_show_more", language), more),))
        rows.append((self._menu_button(language),))
        return Reply(text, tuple(rows))

    def _nearest(
        self, services: tuple[str, ...], point: Point, offset: int, km: float | None, urgent: bool
    ) -> list[Match]:
        return self._directory.nearest(
            point.lat,
            point.lon,
            services,
            limit=PAGE,
            offset=offset,
            max_km=km,
            open_24h_first=urgent,
        )

    def _outside_kenya(self, fmt: Format, language: str) -> Reply:
        body = self._render.ui("referral_outside_kenya", language)
        return Reply(self._render.message(fmt, body), ((self._menu_button(language),),))

    def _facility(self, match: Match, language: str) -> dict[str, Any]:
        f = match.facility
        hours = [
            self._render.ui(key, language)
            for key, is_open in (
                ("referral_open_24h", f.open_24h),
                ("referral_open_weekends", f.open_weekends),
                ("referral_open_late", f.open_late_night),
            )
            if is_open
        ]
        return {
            "name": f.name,
            "kind": " · ".join(part for part in (f.type, f.level) if part),
            "km": f"{match.km:.1f}",
            "area": ", ".join(part for part in (f.sub_county, f.county) if part),
            "hours": hours,
            "map": map_link(f.lat, f.lon) if f.lat is not None and f.lon is not None else "",
        }

    def _labels(self, language: str) -> dict[str, str]:
        keys = ("km_away", "map", "near", "data_credit")
        return {key: self._render.ui(f"referral_label_{key}", language) for key in keys}

    def _label(self, service: str, language: str) -> str:
        return self._render.ui(f"service_{service}", language)

    def _menu_button(self, language: str) -> Button:
        return Button(self._render.ui("button_menu", language), payloads.encode("menu"))


def _place_label(place: Place) -> str:
    if place.kind == "county" or place.name == place.county:
        return place.name
    return f"{place.name}, {place.county}"
