"""The facility directory: KMHFL facilities plus the editors' overlay, searched by distance."""

from __future__ import annotations

import math
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot import paths
from bot.content.schema import SERVICE_IDS

SERVICES_DIR = paths.CONTENT_DIR / "services"
FACILITIES_FILE = "facilities.tsv"
SERVICE_MAP_FILE = "service_map.yml"
CURATED_FILE = "curated.yml"
KMHFL_SOURCE = "KMHFL 2020-05"
COLUMNS = (
    "id",
    "name",
    "type",
    "level",
    "owner",
    "county",
    "sub_county",
    "ward",
    "lat",
    "lon",
    "open_24h",
    "open_weekends",
    "open_late_night",
    "open_holidays",
    "services",
)
FLAGS = ("open_24h", "open_weekends", "open_late_night", "open_holidays")
TEXTS = ("name", "type", "level", "owner", "county", "sub_county", "ward")
CURATED_PREFIX = "curated-"
EARTH_RADIUS_KM = 6371.0088
# Sorts every facility open 24 hours before any other: more than any distance on Earth.
_LATER_KM = 1.0e6
_BIT = {service: 1 << i for i, service in enumerate(SERVICE_IDS)}
# lat_min, lat_max, lon_min, lon_max
KENYA_BOX = (-4.9, 5.1, 33.8, 42.0)
# Kenya's borders drawn generously (some 10-30 km outside the line, the coast offshore, the
# Ilemi triangle and Kenya's part of Lake Victoria inside), clockwise from the Tanzanian coast,
# as (lat, lon).
# Every KMHFL facility lies 9 km or more inside; Arusha, Moshi, Musoma, Moroto, Kotido, Mega and
# the open sea lie outside; towns a few km over the border (Tororo, Tarime, Dhobley) count as in.
KENYA_OUTLINE = (
    (-4.85, 39.15),
    (-3.80, 37.70),
    (-3.45, 37.52),
    (-3.10, 37.40),
    (-2.75, 36.70),
    (-1.10, 33.80),
    (0.20, 33.80),
    (0.45, 33.95),
    (0.70, 34.10),
    (1.00, 34.40),
    (1.25, 34.62),
    (1.60, 34.80),
    (2.50, 34.82),
    (2.90, 34.55),
    (3.30, 34.40),
    (3.80, 34.15),
    (4.25, 33.85),
    (4.60, 34.30),
    (5.10, 35.00),
    (5.10, 35.80),
    (4.75, 36.05),
    (4.55, 36.40),
    (4.35, 37.30),
    (3.85, 38.60),
    (3.75, 39.10),
    (4.10, 39.80),
    (4.25, 40.20),
    (4.25, 41.10),
    (4.15, 42.00),
    (3.60, 42.00),
    (2.85, 41.25),
    (2.40, 41.20),
    (0.00, 41.15),
    (-0.90, 41.25),
    (-1.75, 41.75),
    (-2.05, 41.45),
    (-2.35, 41.10),
    (-2.60, 40.70),
    (-3.05, 40.40),
    (-3.55, 40.10),
    (-4.00, 39.90),
    (-4.40, 39.75),
    (-4.80, 39.50),
)

FloatArray = npt.NDArray[np.float64]
_M = TypeVar("_M", bound=BaseModel)


class DirectoryError(ValueError):
    """A facility, service-map or curated file that cannot be used as it is."""


@dataclass(frozen=True, slots=True)
class Facility:
    """A health facility as the bot shows it."""

    id: str
    name: str
    type: str
    level: str
    owner: str
    county: str
    sub_county: str
    ward: str
    lat: float | None
    lon: float | None
    open_24h: bool
    open_weekends: bool
    open_late_night: bool
    open_holidays: bool
    services: frozenset[str]
    source: str  # KMHFL_SOURCE, or the title of the curated source


@dataclass(frozen=True, slots=True)
class Match:
    """A facility found by a search and its great-circle distance from the search point."""

    facility: Facility
    km: float


@dataclass(frozen=True, slots=True)
class ServiceMap:
    """The editors' mapping from KMHFL service names to canonical ids, and the proxies."""

    names: Mapping[str, tuple[str, ...]]
    proxies: Mapping[str, tuple[str, ...]]
    not_mapped: frozenset[str]

    def ids(self, kmhfl_names: Iterable[str]) -> frozenset[str]:
        """The canonical ids that the given KMHFL service names provide."""
        return frozenset(i for name in kmhfl_names for i in self.names.get(name, ()))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _known(services: Iterable[str]) -> None:
    unknown = sorted(set(services) - set(SERVICE_IDS))
    if unknown:
        raise ValueError(f"unknown service ids {unknown}; known: {', '.join(SERVICE_IDS)}")


class _Proxy(_Strict):
    suggest: list[str] = Field(min_length=1)
    why: str = Field(min_length=10)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _known(self.suggest)
        return self


class _ServiceMapFile(_Strict):
    services: dict[str, list[str]]
    proxies: dict[str, _Proxy] = Field(default_factory=dict)
    not_mapped: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _known(i for ids in self.services.values() for i in ids)
        _known(self.proxies)
        mapped = {i for ids in self.services.values() for i in ids}
        if both := sorted(mapped & set(self.proxies)):
            raise ValueError(
                f"{both} are both mapped and proxied: proxies are for unmapped services"
            )
        if both := sorted(set(self.services) & set(self.not_mapped)):
            raise ValueError(f"{both} are both mapped and in not_mapped")
        return self


class _Source(_Strict):
    title: str = Field(min_length=3)
    url: str = Field(pattern=r"^https?://\S+$")


class CuratedEntry(_Strict):
    """One curated entry: an addition (id curated-...) or a correction of a KMHFL row."""

    id: str = Field(min_length=1)
    corrects: bool = False
    name: str | None = Field(default=None, min_length=2)
    type: str | None = None
    level: str | None = None
    owner: str | None = None
    county: str | None = None
    sub_county: str | None = None
    ward: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    open_24h: bool | None = None
    open_weekends: bool | None = None
    open_late_night: bool | None = None
    open_holidays: bool | None = None
    services: list[str] | None = None
    add_services: list[str] = Field(default_factory=list)
    source: _Source
    added_on: date

    @model_validator(mode="after")
    def _check(self) -> Self:
        _known([*(self.services or ()), *self.add_services])
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        if self.lat is not None and self.lon is not None and not in_kenya(self.lat, self.lon):
            raise ValueError(f"{self.lat}, {self.lon} is not in Kenya (lat and lon swapped?)")
        if self.corrects == self.id.startswith(CURATED_PREFIX):
            raise ValueError(
                f"an addition has an id starting {CURATED_PREFIX!r}; a correction has the "
                "KMHFL id of the row it corrects and says `corrects: true`"
            )
        if not self.corrects:
            missing = [
                k
                for k in ("name", "type", "county", "sub_county", "lat", "services")
                if getattr(self, k) is None
            ]
            if missing:
                raise ValueError(f"an addition needs {', '.join(missing)}")
        return self


class _CuratedFile(_Strict):
    facilities: list[dict[str, Any]]


def load_service_map(path: Path) -> ServiceMap:
    """Read and check `service_map.yml`."""
    raw = _model(_ServiceMapFile, _read_yaml(path), path.name)
    return ServiceMap(
        names={name: tuple(ids) for name, ids in raw.services.items()},
        proxies={service: tuple(p.suggest) for service, p in raw.proxies.items()},
        not_mapped=frozenset(raw.not_mapped),
    )


def read_facilities(path: Path) -> list[Facility]:
    """Read the imported `facilities.tsv`; each row comes from KMHFL."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryError(f"{path.name}: cannot read ({error})") from error
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise DirectoryError(f"{path.name}: the header must be {' '.join(COLUMNS)}")
    shared: dict[str, frozenset[str]] = {}
    return [_facility(line, number, path.name, shared) for number, line in enumerate(lines[1:], 2)]


def _facility(line: str, number: int, where: str, shared: dict[str, frozenset[str]]) -> Facility:
    """One row; the few distinct service sets and category names are shared, not copied."""
    cells = line.split("\t")
    if len(cells) != len(COLUMNS):
        raise DirectoryError(f"{where}:{number}: {len(cells)} fields, expected {len(COLUMNS)}")
    row = dict(zip(COLUMNS, cells, strict=True))
    try:
        services = shared.get(row["services"])
        if services is None:
            services = frozenset(filter(None, row["services"].split(",")))
            _known(services)
            shared[row["services"]] = services
        lat, lon = _coordinate(row["lat"]), _coordinate(row["lon"])
        flags = {key: _flag(row[key]) for key in FLAGS}
    except ValueError as error:
        raise DirectoryError(f"{where}:{number}: {error}") from error
    if not row["id"] or (lat is None) != (lon is None):
        raise DirectoryError(f"{where}:{number}: an id, and both or neither of lat and lon")
    return Facility(
        id=row["id"],
        name=row["name"],
        type=sys.intern(row["type"]),
        level=sys.intern(row["level"]),
        owner=sys.intern(row["owner"]),
        county=sys.intern(row["county"]),
        sub_county=sys.intern(row["sub_county"]),
        ward=sys.intern(row["ward"]),
        lat=lat,
        lon=lon,
        open_24h=flags["open_24h"],
        open_weekends=flags["open_weekends"],
        open_late_night=flags["open_late_night"],
        open_holidays=flags["open_holidays"],
        services=services,
        source=KMHFL_SOURCE,
    )


def _coordinate(cell: str) -> float | None:
    if not cell:
        return None
    value = float(cell)
    if not math.isfinite(value):
        raise ValueError(f"coordinate {cell!r} is not a number")
    return value


def _flag(cell: str) -> bool:
    if cell not in ("0", "1"):
        raise ValueError(f"flag {cell!r} must be 1 or 0")
    return cell == "1"


def read_curated(path: Path) -> list[CuratedEntry]:
    """Read and check `curated.yml`: every entry needs its source and the date it was added."""
    raw = _model(_CuratedFile, _read_yaml(path), path.name)
    entries = []
    for number, item in enumerate(raw.facilities, 1):
        where = f"{path.name}: entry {number} ({item.get('id', 'no id')})"
        entries.append(_model(CuratedEntry, item, where))
    return entries


def apply_overlay(
    facilities: Sequence[Facility], curated: Iterable[CuratedEntry]
) -> list[Facility]:
    """The facilities with the curated corrections applied and the additions appended."""
    result = list(facilities)
    position = {f.id: i for i, f in enumerate(result)}
    for entry in curated:
        if entry.corrects:
            if entry.id not in position:
                raise DirectoryError(f"curated.yml: {entry.id} corrects no facility in the list")
            result[position[entry.id]] = _corrected(result[position[entry.id]], entry)
        else:
            if entry.id in position:
                raise DirectoryError(f"curated.yml: {entry.id} is added twice")
            position[entry.id] = len(result)
            result.append(_added(entry))
    return result


def _given(entry: CuratedEntry) -> dict[str, Any]:
    fields = (*TEXTS, "lat", "lon", *FLAGS)
    return {key: getattr(entry, key) for key in fields if getattr(entry, key) is not None}


def _corrected(facility: Facility, entry: CuratedEntry) -> Facility:
    services = facility.services if entry.services is None else frozenset(entry.services)
    return replace(
        facility,
        **_given(entry),
        services=services | frozenset(entry.add_services),
        source=f"{facility.source}, corrected: {entry.source.title}",
    )


def _added(entry: CuratedEntry) -> Facility:
    services = frozenset([*(entry.services or ()), *entry.add_services])
    blank = dict.fromkeys(TEXTS, "") | dict.fromkeys(FLAGS, False) | {"lat": None, "lon": None}
    given = blank | _given(entry)
    return Facility(id=entry.id, **given, services=services, source=entry.source.title)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise DirectoryError(f"{path.name}: cannot read ({error})") from error


def _model(model: type[_M], raw: object, where: str) -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in error.errors()
        )
        raise DirectoryError(f"{where}: {problems}") from error


class Directory:
    """Every facility, with the arrays that the distance search runs on, built once."""

    __slots__ = (
        "_by_id",
        "_facilities",
        "_found",
        "_lat",
        "_lon",
        "_masks",
        "_offered",
        "_open",
        "_proxies",
    )

    def __init__(
        self, facilities: Sequence[Facility], proxies: Mapping[str, tuple[str, ...]]
    ) -> None:
        self._facilities = tuple(facilities)
        self._by_id = {f.id: f for f in self._facilities}
        self._proxies = dict(proxies)
        self._offered = frozenset(s for f in self._facilities for s in f.services)
        located = [f for f in self._facilities if f.lat is not None and f.lon is not None]
        self._found = tuple(located)
        self._lat = np.radians(np.array([f.lat for f in located], dtype=np.float64))
        self._lon = np.radians(np.array([f.lon for f in located], dtype=np.float64))
        self._masks = np.array([_mask(f.services) for f in located], dtype=np.int64)
        self._open = np.array([f.open_24h for f in located], dtype=np.bool_)

    @classmethod
    def load(cls, folder: Path = SERVICES_DIR) -> Directory:
        """Read facilities.tsv, service_map.yml and curated.yml in `folder`; apply the overlay."""
        service_map = load_service_map(folder / SERVICE_MAP_FILE)
        facilities = read_facilities(folder / FACILITIES_FILE)
        curated = read_curated(folder / CURATED_FILE)
        return cls(apply_overlay(facilities, curated), service_map.proxies)

    def __len__(self) -> int:
        return len(self._facilities)

    def get(self, facility_id: str) -> Facility | None:
        """The facility with this id (a KMHFL code or a curated id), if there is one."""
        return self._by_id.get(facility_id)

    def nearest(
        self,
        lat: float,
        lon: float,
        services: Collection[str],
        *,
        limit: int = 5,
        offset: int = 0,
        max_km: float | None = 50.0,
        open_24h_first: bool = False,
    ) -> list[Match]:
        """Facilities offering any of `services` (any facility if empty), nearest first.

        Only facilities with coordinates, within `max_km` (None: anywhere); with `open_24h_first`
        those open 24 hours come first, each group by distance. Ties go by list order, so
        `offset` and `limit` page through one fixed order.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        km = self._distances(lat, lon)
        keep = self._offering(services)
        if max_km is not None:
            keep &= km <= max_km
        rows = np.flatnonzero(keep)
        key = km[rows]
        if open_24h_first:
            key = key + np.where(self._open[rows], 0.0, _LATER_KM)
        order = _smallest(rows, key, offset + limit)[offset:]
        return [Match(self._found[i], float(km[i])) for i in order]

    def proxies(self, service: str) -> tuple[str, ...]:
        """For a service the list does not record (PrEP, PEP...), the services to search instead."""
        return self._proxies.get(service, ())

    def offered(self, service: str) -> bool:
        """Whether any facility records `service`."""
        return service in self._offered

    def serves(self, lat: float, lon: float, *, within_km: float = 60.0) -> bool:
        """Whether the point is in Kenya and some facility with coordinates lies within reach."""
        if not in_kenya(lat, lon):
            return False
        return bool(np.any(self._distances(lat, lon) <= within_km))

    def _distances(self, lat: float, lon: float) -> FloatArray:
        """Haversine great-circle km from (lat, lon) to every facility with coordinates."""
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"not a point on Earth: {lat}, {lon}")
        phi, lam = math.radians(lat), math.radians(lon)
        half = np.sin((self._lat - phi) / 2) ** 2
        half += np.cos(self._lat) * math.cos(phi) * np.sin((self._lon - lam) / 2) ** 2
        km: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(half, 1.0)))
        return km

    def _offering(self, services: Collection[str]) -> npt.NDArray[np.bool_]:
        if not services:
            return np.ones(self._masks.shape, dtype=np.bool_)
        try:
            wanted = _mask(services)
        except ValueError as error:
            raise DirectoryError(str(error)) from error
        offering: npt.NDArray[np.bool_] = (self._masks & wanted) != 0
        return offering


def _mask(services: Iterable[str]) -> int:
    """The services as bits, one per canonical id."""
    services = set(services)
    _known(services)
    return sum(_BIT[s] for s in services)


def _smallest(rows: npt.NDArray[np.intp], key: FloatArray, count: int) -> npt.NDArray[np.intp]:
    """The `count` rows with the smallest keys, in order; ties by row, so pages never overlap."""
    if count <= 0:
        return rows[:0]
    if count < rows.size:
        kth = np.partition(key, count - 1)[count - 1]
        within = key <= kth
        rows, key = rows[within], key[within]
    ordered: npt.NDArray[np.intp] = rows[np.lexsort((rows, key))][:count]
    return ordered


def in_kenya(lat: float, lon: float) -> bool:
    """Whether a point lies in (a generous outline of) Kenya; False at sea and in neighbours."""
    lat_min, lat_max, lon_min, lon_max = KENYA_BOX
    if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
        return False
    return _inside(lat, lon, KENYA_OUTLINE)


def _inside(lat: float, lon: float, outline: Sequence[tuple[float, float]]) -> bool:
    """Ray casting: inside when a ray from the point crosses the outline an odd number of times."""
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(outline, (*outline[1:], outline[0]), strict=True):
        if (lat1 > lat) != (lat2 > lat):
            crossing = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
            if lon < crossing:
                inside = not inside
    return inside


def map_link(lat: float, lon: float) -> str:
    """An OpenStreetMap link with a pin on the point."""
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"
    )
