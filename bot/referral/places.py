"""Gazetteer: turn what a young person types ("nko kisimu", "karibu na Homa Bay") into a place.

`build_places` imports counties, sub-counties and populated places from the reference data
(shared/data); `write_places` writes the committed `content/services/places.tsv`; `Gazetteer.load`
reads only that file and `Gazetteer.resolve` answers one clear place, 2-5 candidates that share
the name in different counties, or "did you mean" suggestions. Town names come from GeoNames
(CC BY 4.0): credit "GeoNames (geonames.org)" wherever they are shown or shipped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import paths

PLACES_FILE = paths.CONTENT_DIR / "services" / "places.tsv"
COUNTIES_FILE = "kenya_counties_subcounties_centers.json"
GEONAMES_FILE = "geonames_KE.txt"
CREDIT = "GeoNames (geonames.org), CC BY 4.0"
HEADER = ("name", "kind", "county", "lat", "lon", "population")
KINDS = ("county", "sub_county", "town")
# When one name fits several kinds in one county, the town (a point people go to) comes first.
RESOLVE_ORDER = {"town": 0, "sub_county": 1, "county": 2}
AMBIGUOUS_POPULATION = 1000
MAX_CANDIDATES = 5
MAX_SUGGESTIONS = 3
MAX_NGRAM = 4
MAX_TOKENS = 40
# Shortest word that is typo-corrected (4-letter words collide: menu/Meru, kila/Kina, sema/Seme)
# and shortest word that gets "did you mean" suggestions.
MIN_FUZZY = 5
MIN_SUGGEST = 4
# GeoNames rows other than class P that are places young people name in the two cities:
# sub-locations, locations and housing estates ("Kangemi Sub-Location", "Njiru Estate").
URBAN_COUNTIES = frozenset({"Nairobi", "Mombasa"})
URBAN_EXTRA_CODES = frozenset({"ADMD", "EST"})
SKIPPED_P_CODES = frozenset({"PPLQ", "PPLH", "PPLW"})  # abandoned, historical, destroyed
SUB_COUNTY_SOURCE_CODES = ("ADM2", "ADM3", "ADMD")
MAX_SOURCE_KM = 150.0
_NAME_SUFFIX = re.compile(
    r"\s+(sub[\s-]?count(y|ies)?|sub[\s-]?location|location|sub[\s-]?section|division|district)$",
    re.IGNORECASE,
)
# Trailing words that a name is also known without ("Kibera Estate", "Nyeri Town", "Umoja 1").
NAME_SUFFIXES = frozenset(
    "estate town city county area sub subcounty location district division".split()  # noqa: SIM905
)
_APOSTROPHES = str.maketrans("", "", "'’‘`´")
_TOKEN = re.compile(r"[a-z0-9]+")

# Upstream misspellings of sub-county names (kenya-counties-subcounties), spelled as gazetted;
# each is listed with its evidence in content/services/PLACES.md.
SUB_COUNTY_SPELLING = {
    "Daadab": "Dadaab",
    "Genzw": "Ganze",
    "Igambangobe": "Igambang'ombe",
    "Karachwonyo": "Karachuonyo",
    "Kibwei west": "Kibwezi west",
    "Kimilil": "Kimilili",
    "Lukuyani": "Likuyani",
    "Matiyani": "Matinyani",
    "Merit": "Merti",
    "Mkurweni": "Mukurweini",
    "Mohoroni": "Muhoroni",
    "Mutuga": "Matuga",
    "Mutungu": "Matungu",
    "Nambele": "Nambale",
    "Namdi hills": "Nandi hills",
    "Tharak north": "Tharaka north",
    "Unguja": "Ugunja",
}
# GeoNames rows whose admin1 code names the wrong county (geonameid -> county), with evidence in
# PLACES.md: Thika carries Nairobi's code, but GeoNames' own "Thika District" row and the counties
# file both put it in Kiambu.
COUNTY_FIXES = {179330: "Kiambu"}
# Words and abbreviations young people use for a place, mapped to (name, county) in places.tsv.
ALIASES = {
    "rongai": ("Ongata Rongai", "Kajiado"),
    "msa": ("Mombasa", "Mombasa"),
    "nrb": ("Nairobi", "Nairobi"),
    "nbi": ("Nairobi", "Nairobi"),
    "ksm": ("Kisumu", "Kisumu"),
}
# Words around a place that say which kind is meant ("Kisumu county", "mjini Kisumu").
KIND_WORDS = {
    "county": "county",
    "kaunti": "county",
    "sub": "sub_county",
    "subcounty": "sub_county",
    "town": "town",
    "mjini": "town",
    "mji": "town",
    "tao": "town",
    "cbd": "town",
    "city": "town",
}
# Words just before a place ("niko Kisumu", "near Kibera", "wapi Siaya") or after it ("X estate").
CUES_BEFORE = frozenset(
    """
    in at near around from niko nko nipo naishi nakaa huko karibu wapi kwenye katika mjini mtaa
    kaunti county town tao live living stay staying based within
    """.split()  # noqa: SIM905
)
CUE_PAIRS = frozenset(
    {
        ("karibu", "na"),
        ("town", "ya"),
        ("tao", "ya"),
        ("kaunti", "ya"),
        ("mji", "wa"),
        ("mtaa", "wa"),
        ("in", "the"),
        ("near", "the"),
        ("around", "the"),
        ("from", "the"),
    }
)
CUES_AFTER = frozenset({*KIND_WORDS, "estate", "area", "side", "mtaa"})
# Words that are never a place on their own, in English, Kiswahili and Sheng.
FILLERS = frozenset(
    {
        *KIND_WORDS,
        *"""
        niko nko nipo naishi nakaa kwa karibu na ni ya wa huko hapa kule pale kwenye katika mimi
        tuko uko iko in at near around from the i live living am im stay staying estate area
        mtaa of to on my me is a an and by side upande
        """.split(),  # noqa: SIM905
    }
)
# Everyday chat words, some of them also the name of a place ("tena", "maisha", "mwingi"): such a
# word names a place only after a cue ("niko Mwingi"), or alone for a town of 1,000+ people.
COMMON_WORDS = frozenset(
    """
    about after again all also any asante asanti baba bado bamba banda barua basi before bila body
    bro broke but can central chaka city clinic condom condoms could dada daktari damu dawa do
    doctor does dr first five for furaha garden get go good habari hapana haraka harambee haya
    hazina hello helo help here hey hi highway hii hiv home hospital how hujambo jambo juu kabla
    kaka kali kama karia kasuku kawaida kenya kesho kikombe kina kinga kitu kliniki kona kuja kuna
    kupima kwanza lakini lala lazima leo lower maisha mama mambo manga manze masai matatu matiti
    mbale mbali menu merit mika moi mpenzi msaada msee mtoto mwingi mwisho my naomba nashukuru
    nataka ndani ndege ndio need new nini no now ok old one pep pesa pioneer please pls plz poa
    prep raila ramu rangi real right ruto safi sana sare sasa sauti sawa school sema shule siku
    simba soko sunrise sure tala tayari tena test tested testing thank thanks thanx the there three
    tu two unga upper vipi want wapi where which who why with yes you your
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Place:
    """A county, sub-county or town (village, estate) with a point for "nearest" searches."""

    name: str
    kind: str  # "county" | "sub_county" | "town"
    county: str
    lat: float
    lon: float
    population: int


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a message names: one place, candidates to choose from, or suggestions."""

    place: Place | None  # one clear match
    candidates: tuple[Place, ...] = ()  # 2-5 places sharing the name, most populous first
    suggestions: tuple[str, ...] = ()  # unknown place: up to 3 close names ("did you mean")


@dataclass(frozen=True, slots=True)
class _County:
    """A county from the counties file: name, centre and sub-county names as written upstream."""

    name: str
    lat: float
    lon: float
    sub_counties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Row:
    """The GeoNames columns the import uses."""

    geonameid: int
    name: str
    lat: float
    lon: float
    feature_class: str
    feature_code: str
    admin1: str
    population: int


@dataclass(frozen=True, slots=True)
class _Hit:
    """A span of the message that names places, with the kind its neighbours ask for."""

    places: tuple[Place, ...]
    hint: str | None
    strong: bool


# ---------------------------------------------------------------------------------------------
# Text


def fold(text: str) -> str:
    """Lower-case, accent-free, apostrophe-free text with single spaces between words."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(_TOKEN.findall(plain.translate(_APOSTROPHES)))


def name_keys(name: str) -> tuple[str, ...]:
    """Index keys of a name: its words run together, then without a trailing number or suffix."""
    words = fold(name).split()
    keys = ["".join(words)]
    while len(words) > 1 and (words[-1].isdigit() or words[-1] in NAME_SUFFIXES):
        words = words[:-1]
        keys.append("".join(words))
    return tuple(dict.fromkeys(key for key in keys if len(key) >= 3))


def distance(a: str, b: str, bound: int) -> int:
    """Optimal-string-alignment edit distance (a swap counts 1), or `bound + 1` beyond `bound`."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        row = [i] * (len(b) + 1)
        for j, other in enumerate(b, 1):
            best = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (char != other))
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                best = min(best, before[j - 2] + 1)
            row[j] = best
        if min(row) > bound:
            return bound + 1
        before, previous = previous, row
    return min(previous[-1], bound + 1)


def _deletions(word: str, depth: int) -> set[str]:
    """`word` and every string made from it by deleting up to `depth` letters."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _fuzzy_bound(query: str, key: str) -> int:
    """Edits allowed between a typed word and a name: 2 for names of 7+ letters, else 1."""
    if len(query) < MIN_FUZZY or len(key) < MIN_SUGGEST:
        return 0
    return 2 if len(key) >= 7 and len(query) >= 6 else 1


def _suggest_bound(query: str, key: str) -> int:
    """Edits allowed for a "did you mean": 2 when both words have 5+ letters, else 1."""
    if min(len(query), len(key)) < MIN_SUGGEST:
        return 0
    return 2 if min(len(query), len(key)) >= 5 else 1


# ---------------------------------------------------------------------------------------------
# Import from shared/data


def build_places(shared_data: Path) -> list[Place]:
    """Counties, sub-counties and populated places from shared/data, sorted as in places.tsv."""
    counties = _read_counties(shared_data / COUNTIES_FILE)
    rows = _read_geonames(shared_data / GEONAMES_FILE)
    codes = _county_codes(rows, [county.name for county in counties])
    located = _locate(rows, codes)
    county_rows = [row for row in rows if row.feature_code == "ADM1" and row.admin1 in codes]
    population = {codes[row.admin1]: row.population for row in county_rows}
    places = [
        *_county_places(counties, population),
        *_sub_county_places(counties, located),
        *_town_places(located),
    ]
    return sort_places(_dedupe(places))


def sort_places(places: Iterable[Place]) -> list[Place]:
    """The deterministic order of places.tsv: county, kind, name, then position."""
    return sorted(
        places,
        key=lambda p: (p.county, KINDS.index(p.kind), p.name.casefold(), p.name, p.lat, p.lon),
    )


def write_places(places: list[Place], path: Path) -> None:
    """Write places as a compact TSV with a header, coordinates to 5 decimals, sorted."""
    lines = ["\t".join(HEADER)]
    for place in sort_places(places):
        fields = (place.name, place.kind, place.county)
        if any(ch in field for field in fields for ch in "\t\r\n"):
            raise ValueError(f"a tab or line break in {place!r}")
        coords = f"{place.lat:.5f}\t{place.lon:.5f}"
        lines.append(f"{place.name}\t{place.kind}\t{place.county}\t{coords}\t{place.population}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_places(path: Path) -> list[Place]:
    """Read a places.tsv written by `write_places`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        raise ValueError(f"{path}: the header must be {' '.join(HEADER)}")
    return [_parse_line(path, number, line) for number, line in enumerate(lines[1:], 2)]


def import_places(shared_data: Path, target: Path = PLACES_FILE) -> int:
    """Rebuild places.tsv from shared/data (for `healthbot services import`); return the count."""
    places = build_places(shared_data)
    write_places(places, target)
    return len(places)


def input_digests(shared_data: Path) -> dict[str, str]:
    """The sha256 of each input file, as recorded in PLACES.md."""
    return {
        name: hashlib.sha256((shared_data / name).read_bytes()).hexdigest()
        for name in (COUNTIES_FILE, GEONAMES_FILE)
    }


def _parse_line(path: Path, number: int, line: str) -> Place:
    fields = line.split("\t")
    if len(fields) != len(HEADER) or fields[1] not in KINDS:
        raise ValueError(f"{path}:{number}: expected {len(HEADER)} fields and a known kind")
    name, kind, county, lat, lon, population = fields
    return Place(name, kind, county, float(lat), float(lon), int(population))


def _read_counties(path: Path) -> list[_County]:
    counties = json.loads(path.read_text(encoding="utf-8"))["counties"]
    if len(counties) != 47:
        raise ValueError(f"{path}: expected 47 counties, found {len(counties)}")
    return [
        _County(
            name=str(county["name"]),
            lat=float(county["center_lat"]),
            lon=float(county["center_lon"]),
            sub_counties=tuple(str(name) for name in county.get("sub_counties") or ()),
        )
        for county in counties
    ]


def _read_geonames(path: Path) -> list[_Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [_row(fields) for fields in reader if fields[1].strip()]


def _row(fields: list[str]) -> _Row:
    return _Row(
        geonameid=int(fields[0]),
        name=fields[1].strip(),
        lat=float(fields[4]),
        lon=float(fields[5]),
        feature_class=fields[6],
        feature_code=fields[7],
        admin1=fields[10],
        population=int(fields[14] or 0),
    )


def _county_codes(rows: Sequence[_Row], names: Sequence[str]) -> dict[str, str]:
    """Map the 47 GeoNames ADM1 codes to county names, allowing 2 edits ("Elegeyo-Marakwet")."""
    plain = {re.sub(r"[^a-z]", "", fold(name)): name for name in names}
    codes: dict[str, str] = {}
    for row in rows:
        if row.feature_code != "ADM1":
            continue
        key = re.sub(r"[^a-z]", "", fold(row.name).removesuffix(" district"))
        best = min(plain, key=lambda candidate: (distance(key, candidate, 2), candidate))
        if distance(key, best, 2) > 2:
            raise ValueError(f"GeoNames ADM1 {row.name!r} matches no county")
        codes[row.admin1] = plain[best]
    if sorted(codes.values()) != sorted(names):
        raise ValueError("GeoNames ADM1 rows do not map one-to-one onto the 47 counties")
    return codes


def _locate(rows: Sequence[_Row], codes: Mapping[str, str]) -> list[tuple[_Row, str]]:
    """Pair each row that could become a place with its county.

    A row with an old province code (01-09 but Nairobi's 05) or none takes the county of the
    nearest populated place that has a county code; COUNTY_FIXES overrides known wrong codes.
    """
    wanted = [row for row in rows if row.feature_class in {"P", "A"} or row.feature_code == "EST"]
    labelled = [r for r in wanted if r.feature_class == "P" and r.admin1 in codes]
    grid = _grid(labelled)
    located = []
    for row in wanted:
        county = COUNTY_FIXES.get(row.geonameid) or codes.get(row.admin1)
        if county is None:
            county = codes[_nearest(row, grid).admin1]
        located.append((row, county))
    return located


def _grid(rows: Iterable[_Row]) -> dict[tuple[int, int], list[_Row]]:
    cells: dict[tuple[int, int], list[_Row]] = defaultdict(list)
    for row in rows:
        cells[(math.floor(row.lat), math.floor(row.lon))].append(row)
    return cells


def _nearest(row: _Row, grid: Mapping[tuple[int, int], list[_Row]]) -> _Row:
    """The closest row in `grid`, searching one-degree cells outwards (one ring past a hit)."""
    for radius in range(1, 12):
        if _block(row, grid, radius):
            near = _block(row, grid, radius + 1)
            return min(near, key=lambda other: (_km(row.lat, row.lon, other), other.geonameid))
    raise ValueError(f"no located place near GeoNames row {row.geonameid}")


def _block(row: _Row, grid: Mapping[tuple[int, int], list[_Row]], radius: int) -> list[_Row]:
    lat, lon = math.floor(row.lat), math.floor(row.lon)
    return [
        other
        for dlat in range(-radius, radius + 1)
        for dlon in range(-radius, radius + 1)
        for other in grid.get((lat + dlat, lon + dlon), ())
    ]


def _km(lat: float, lon: float, row: _Row) -> float:
    dlat = math.radians(row.lat - lat)
    dlon = math.radians(row.lon - lon) * math.cos(math.radians((row.lat + lat) / 2))
    return 6371.0 * math.hypot(dlat, dlon)


def _county_places(counties: Iterable[_County], population: Mapping[str, int]) -> list[Place]:
    return [
        Place(c.name, "county", c.name, round(c.lat, 5), round(c.lon, 5), population[c.name])
        for c in counties
    ]


def _clean_sub_county(raw: str) -> str:
    """Tidy an upstream sub-county name: spaces, a trailing dot or "Sub County", known typos."""
    name = _NAME_SUFFIX.sub("", " ".join(raw.replace(".", " ").split()))
    name = SUB_COUNTY_SPELLING.get(name, name)
    return " ".join(word[:1].upper() + word[1:] for word in name.split())


def _sub_county_places(
    counties: Iterable[_County], located: Sequence[tuple[_Row, str]]
) -> list[Place]:
    """Sub-counties at a GeoNames place or ADM2/ADM3 row of the same name, else the centre."""
    sources: dict[tuple[str, str], list[_Row]] = defaultdict(list)
    for row, county_name in located:
        if row.feature_class == "P" or row.feature_code in SUB_COUNTY_SOURCE_CODES:
            for key in name_keys(_NAME_SUFFIX.sub("", row.name)):
                sources[(county_name, key)].append(row)
    places = []
    for county in counties:
        for raw in county.sub_counties:
            name = _clean_sub_county(raw)
            found = _sub_county_source(county, sources.get((county.name, name_keys(name)[-1]), []))
            lat, lon = (found.lat, found.lon) if found else (county.lat, county.lon)
            places.append(Place(name, "sub_county", county.name, round(lat, 5), round(lon, 5), 0))
    return places


def _sub_county_source(county: _County, rows: Sequence[_Row]) -> _Row | None:
    """The most populous place, else the ADM2/ADM3 row, of the name within reach of the centre."""
    near = [row for row in rows if _km(county.lat, county.lon, row) <= MAX_SOURCE_KM]
    ranked = sorted(near, key=lambda r: (r.feature_class != "P", -r.population, r.geonameid))
    return ranked[0] if ranked else None


def _town_places(located: Iterable[tuple[_Row, str]]) -> list[Place]:
    """Populated places (class P), plus sub-locations and estates in Nairobi and Mombasa."""
    places = []
    for row, county in located:
        town = row.feature_class == "P" and row.feature_code not in SKIPPED_P_CODES
        urban = county in URBAN_COUNTIES and row.feature_code in URBAN_EXTRA_CODES
        if town or urban:
            name = _NAME_SUFFIX.sub("", row.name) if urban else row.name
            lat, lon = round(row.lat, 5), round(row.lon, 5)
            places.append(Place(name, "town", county, lat, lon, row.population))
    return places


def _dedupe(places: Iterable[Place]) -> list[Place]:
    """One place per name, kind and county: the most populous, then the first in file order."""
    best: dict[tuple[str, str, str], Place] = {}
    for place in sort_places(places):
        key = (place.name, place.kind, place.county)
        if key not in best or place.population > best[key].population:
            best[key] = place
    return list(best.values())


# ---------------------------------------------------------------------------------------------
# Resolve


def is_notable(place: Place) -> bool:
    """A county, a sub-county, a town with a known population or a Nairobi/Mombasa estate.

    Other villages (GeoNames gives no population for most) match only exactly, never by typo.
    """
    return place.kind != "town" or place.population > 0 or place.county in URBAN_COUNTIES


def is_populated(place: Place) -> bool:
    """Big enough that sharing its name with another county's place makes a message ambiguous."""
    return place.kind != "town" or place.population >= AMBIGUOUS_POPULATION


class Gazetteer:
    """Find the place a message names: exact names, then typos, then "did you mean"."""

    def __init__(self, places: Sequence[Place]) -> None:
        self._county_population = {p.county: p.population for p in places if p.kind == "county"}
        self._exact = self._index_names(places)
        self._notable = frozenset(k for k, found in self._exact.items() if is_notable(found[0]))
        self._deletions = self._index_deletions()

    @classmethod
    def load(cls, path: Path = PLACES_FILE) -> Gazetteer:
        """Read places.tsv (and nothing else) and build the indexes once."""
        return cls(read_places(path))

    def resolve(self, text: str) -> Resolution:
        """Return one place, 2-5 candidates sharing the name, or suggestions for an unknown one.

        The first strong exact match (left to right) wins, else the first weak one, else the best
        typo match; another place named in the message can settle an ambiguous name.
        """
        tokens = fold(text).split()[:MAX_TOKENS]
        hits = list(self._exact_hits(tokens))
        hit = next((h for h in hits if h.strong), hits[0] if hits else None)
        hit = hit or self._fuzzy_hit(tokens)
        if hit is None:
            return Resolution(None, suggestions=self._suggest(tokens))
        return _narrow(self._decide(hit), [h for h in hits if h is not hit])

    # indexes

    def _index_names(self, places: Sequence[Place]) -> dict[str, tuple[Place, ...]]:
        """Every key of every name (and ALIASES) to its places, best first."""
        found: dict[str, list[Place]] = defaultdict(list)
        for place in places:
            for key in name_keys(place.name):
                found[key].append(place)
        for alias, (name, county) in ALIASES.items():
            targets = [p for p in places if p.name == name and p.county == county]
            found[alias].extend(sorted(targets, key=self._rank)[:1])
        return {key: tuple(sorted(set(group), key=self._rank)) for key, group in found.items()}

    def _index_deletions(self) -> dict[str, str]:
        """Symmetric-deletion index of the notable names: each with up to 2 letters deleted.

        A value is the space-joined keys that the deletion comes from (keys have no spaces), so a
        deletion shared by no other key costs no more than a reference to the key itself.
        """
        index: dict[str, str] = {}
        for key in sorted(self._notable):
            if len(key) < MIN_SUGGEST or not key.isalpha():
                continue
            for variant in _deletions(key, 2 if len(key) >= 5 else 1):
                index[variant] = f"{index[variant]} {key}" if variant in index else key
        return index

    def _rank(self, place: Place) -> tuple[bool, int, int, int, str, str, float, float]:
        """Sort key for places sharing a name, best first.

        Notable first, then town before sub-county before county, more people, a more populous
        county, then county, name and position so that the order is deterministic.
        """
        county_population = self._county_population.get(place.county, 0)
        return (
            not is_notable(place),
            RESOLVE_ORDER[place.kind],
            -place.population,
            -county_population,
            place.county,
            place.name,
            place.lat,
            place.lon,
        )

    # matching

    def _exact_hits(self, tokens: Sequence[str]) -> Iterator[_Hit]:
        """Longest n-gram (up to MAX_NGRAM words) that names a place, scanning left to right.

        A village with no population, or an everyday word ("tena"), counts only when a word
        around it says it is a place ("niko", "near", "estate") or the message holds nothing else.
        """
        start = 0
        while start < len(tokens):
            end = self._longest_name(tokens, start)
            if end is None:
                start += 1
                continue
            found = self._exact["".join(tokens[start:end])]
            strong = end - start > 1 or is_notable(found[0])
            cued = _cued(tokens, start, end)
            if _is_common(tokens[start:end]):  # "Mwingi" alone, but not "sawa sawa" or "jambo"
                alone = end - start == 1 and _alone(tokens, start, end)
                accepted = cued or (alone and is_populated(found[0]))
            else:
                accepted = strong or cued or _alone(tokens, start, end, COMMON_WORDS)
            if accepted:
                yield _Hit(found, _kind_hint(tokens, start, end), strong)
            start = end

    def _longest_name(self, tokens: Sequence[str], start: int) -> int | None:
        """The end of the longest span from `start` that is a name in the index."""
        for end in range(min(len(tokens), start + MAX_NGRAM), start, -1):
            span = tokens[start:end]
            if _can_name(span) and "".join(span) in self._exact:
                return end
        return None

    def _fuzzy_hit(self, tokens: Sequence[str]) -> _Hit | None:
        """The best typo match where the message is about a place: notable, fewer edits, bigger."""
        best: tuple[tuple[bool, int, int, int, str], _Hit] | None = None
        for start, end in _spans(tokens, MAX_NGRAM - 1):
            span = tokens[start:end]
            if not _can_fuzz(span) or not (_cued(tokens, start, end) or _alone(tokens, start, end)):
                continue  # a typo counts only where the message is about a place
            for key, edits in self._near("".join(span), _fuzzy_bound):
                found = self._exact[key]
                score = (not is_notable(found[0]), edits, -found[0].population, start, key)
                if best is None or score < best[0]:
                    best = (score, _Hit(found, _kind_hint(tokens, start, end), True))
        return best[1] if best else None

    def _near(self, query: str, bound: Callable[[str, str], int]) -> Iterator[tuple[str, int]]:
        """Keys within `bound(query, key)` edits of `query`, through the deletion index."""
        seen: set[str] = set()
        for variant in _deletions(query, 2 if len(query) >= 5 else 1):
            for key in self._deletions.get(variant, "").split():
                if key in seen:
                    continue
                seen.add(key)
                allowed = bound(query, key)
                if allowed and (edits := distance(query, key, allowed)) <= allowed:
                    yield key, edits

    def _suggest(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """Up to MAX_SUGGESTIONS names of notable places close to the message's words."""
        scored: dict[str, tuple[int, int]] = {}
        for start, end in _spans(tokens, 2):
            about_place = _cued(tokens, start, end) or _alone(tokens, start, end, COMMON_WORDS)
            if not about_place or not _can_fuzz(tokens[start:end]):
                continue
            for key, edits in self._near("".join(tokens[start:end]), _suggest_bound):
                place = self._exact[key][0]
                score = (edits, -place.population)
                scored[place.name] = min(score, scored.get(place.name, score))
        return tuple(sorted(scored, key=lambda name: (scored[name], name))[:MAX_SUGGESTIONS])

    # deciding

    def _decide(self, hit: _Hit) -> Resolution:
        """One place, or candidates when populated places in 2+ counties share the name."""
        ranked = [p for p in hit.places if p.kind == hit.hint] or list(hit.places)
        per_county: dict[str, Place] = {}
        for place in ranked:
            if is_populated(place):
                per_county.setdefault(place.county, place)
        if len(per_county) < 2:
            return Resolution(ranked[0])
        admin = {p.county for p in ranked if p.kind != "town"}
        candidates = sorted(
            per_county.values(),
            key=lambda p: (
                -p.population,
                p.county not in admin,
                -self._county_population.get(p.county, 0),
                p.county,
            ),
        )
        return Resolution(None, candidates=tuple(candidates[:MAX_CANDIDATES]))


def _narrow(resolution: Resolution, others: Sequence[_Hit]) -> Resolution:
    """Pick the candidate in a county the message also names: "Rongai, Nakuru"."""
    counties = {hit.places[0].county for hit in others}
    chosen = [place for place in resolution.candidates if place.county in counties]
    return Resolution(chosen[0]) if len(chosen) == 1 else resolution


def _spans(tokens: Sequence[str], longest: int) -> Iterator[tuple[int, int]]:
    for start in range(len(tokens)):
        for end in range(start + 1, min(len(tokens), start + longest) + 1):
            yield start, end


def _can_name(span: Sequence[str]) -> bool:
    """A span may name a place unless it starts or ends with a filler or starts with a number."""
    return span[0] not in FILLERS and span[-1] not in FILLERS and not span[0].isdigit()


def _can_fuzz(span: Sequence[str]) -> bool:
    """Only words (no numbers) that are neither fillers nor everyday words are typo-corrected."""
    return _can_name(span) and all(t.isalpha() and t not in COMMON_WORDS for t in span)


def _is_common(span: Sequence[str]) -> bool:
    return all(token in COMMON_WORDS or token in FILLERS for token in span)


def _cued(tokens: Sequence[str], start: int, end: int) -> bool:
    """A word before or after the span says it is a place: "niko X", "karibu na X", "X estate"."""
    before = tuple(tokens[max(0, start - 2) : start])
    after = tokens[end : end + 1]
    return (
        bool(before and before[-1] in CUES_BEFORE)
        or before in CUE_PAIRS
        or bool(after and after[0] in CUES_AFTER)
    )


def _alone(
    tokens: Sequence[str], start: int, end: int, ignored: frozenset[str] = frozenset()
) -> bool:
    """Nothing but fillers, numbers (and `ignored` words) around the span: "nko Kayole 2"."""
    rest = (*tokens[:start], *tokens[end:])
    return all(t in FILLERS or t in ignored or t.isdigit() for t in rest)


def _kind_hint(tokens: Sequence[str], start: int, end: int) -> str | None:
    """The kind the neighbouring words ask for: "Kisumu county", "mjini Kisumu", "X sub county"."""
    for token in (*tokens[end : end + 2], *reversed(tokens[max(0, start - 2) : start])):
        if token in KIND_WORDS:
            return KIND_WORDS[token]
    return None
