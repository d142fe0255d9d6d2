"""The gazetteer: what young people type, in English, Kiswahili and Sheng, resolves to a place."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.referral import places
from bot.referral.places import (
    ALIASES,
    CREDIT,
    PLACES_FILE,
    Gazetteer,
    Place,
    build_places,
    distance,
    fold,
    input_digests,
    read_places,
    write_places,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PLACES_DOC = PLACES_FILE.with_name("PLACES.md")


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load(PLACES_FILE)


@pytest.fixture(scope="module")
def built() -> list[Place]:
    assert SHARED.is_dir(), "shared/data sits beside the repository on developer and CI machines"
    return build_places(SHARED)


RESOLVED = [
    # English: case, punctuation, spacing, extra words
    ("Homa Bay", "Homa Bay", "Homa Bay"),
    ("homabay", "Homa Bay", "Homa Bay"),
    ("HOMA BAY!!", "Homa Bay", "Homa Bay"),
    ("in Homa Bay", "Homa Bay", "Homa Bay"),
    ("near homa bay", "Homa Bay", "Homa Bay"),
    ("Homa Bay town", "Homa Bay", "Homa Bay"),
    ("i live in kibera", "Kibera Estate", "Nairobi"),
    ("I am in Eastleigh", "Eastleigh", "Nairobi"),
    ("im from eldoret", "Eldoret", "Uasin Gishu"),
    ("Nairobi CBD", "Nairobi", "Nairobi"),
    ("Nairobi", "Nairobi", "Nairobi"),
    ("Mombasa", "Mombasa", "Mombasa"),
    ("Kakamega", "Kakamega", "Kakamega"),
    ("Eldoret", "Eldoret", "Uasin Gishu"),
    ("Lodwar", "Lodwar", "Turkana"),
    ("Thika", "Thika", "Kiambu"),
    ("Kitengela", "Kitengela", "Kajiado"),
    ("Ongata Rongai", "Ongata Rongai", "Kajiado"),
    ("Athi River", "Athi River", "Machakos"),
    ("Bondo", "Bondo", "Siaya"),
    ("Lunga Lunga", "Lunga-Lunga", "Kwale"),
    ("Lungalunga", "Lunga-Lunga", "Kwale"),
    ("Murang'a", "Murang’a", "Murang'a"),
    ("Muranga", "Murang’a", "Murang'a"),
    # Kiswahili
    ("karibu na Homa Bay", "Homa Bay", "Homa Bay"),
    ("niko Kisumu", "Kisumu", "Kisumu"),
    ("naishi Nakuru", "Nakuru", "Nakuru"),
    ("huko Eldoret", "Eldoret", "Uasin Gishu"),
    ("kutoka Kisumu", "Kisumu", "Kisumu"),
    ("Kisumu mjini", "Kisumu", "Kisumu"),
    ("mjini Kisumu", "Kisumu", "Kisumu"),
    ("town ya Kisumu", "Kisumu", "Kisumu"),
    ("mtaa wa Kayole", "Kayole", "Nairobi"),
    # Sheng
    ("nko kisumu", "Kisumu", "Kisumu"),
    ("tao ya Kisumu", "Kisumu", "Kisumu"),
    ("nko Kayole", "Kayole", "Nairobi"),
    ("kwa Kayole", "Kayole", "Nairobi"),
    ("niko msa", "Mombasa", "Mombasa"),
    ("ksm cbd", "Kisumu", "Kisumu"),
    # Nairobi estates and Mombasa areas
    ("Kibera", "Kibera Estate", "Nairobi"),
    ("Kayole", "Kayole", "Nairobi"),
    ("Eastleigh", "Eastleigh", "Nairobi"),
    ("Eastleigh estate", "Eastleigh", "Nairobi"),
    ("Kayole area", "Kayole", "Nairobi"),
    ("Githurai 45", "Githurai", "Nairobi"),
    ("Buruburu", "Buru Buru 1", "Nairobi"),
    ("South B", "South ’B’", "Nairobi"),
    ("Lang'ata", "Lang'ata", "Nairobi"),
    ("Langata", "Lang'ata", "Nairobi"),
    ("Mukuru kwa Njenga", "Mukuru kwa njenga", "Nairobi"),
    ("Kawangware", "Kawangware", "Nairobi"),
    ("Umoja", "Umoja 1", "Nairobi"),
    ("Nairobi west", "Nairobi West", "Nairobi"),
    ("Westlands", "Westlands", "Nairobi"),
    ("Kibra", "Kibra", "Nairobi"),
    ("Nyali", "Nyali", "Mombasa"),
    ("Bamburi", "Bamburi", "Mombasa"),
    ("Likoni", "Likoni", "Mombasa"),
    ("Kongowea", "Kongowea", "Mombasa"),
    # typos
    ("Kisimu", "Kisumu", "Kisumu"),
    ("kisumo", "Kisumu", "Kisumu"),
    ("nko kisimu", "Kisumu", "Kisumu"),
    ("Nakru", "Nakuru", "Nakuru"),
    ("Nakuruu", "Nakuru", "Nakuru"),
    ("Mombassa", "Mombasa", "Mombasa"),
    ("Eldorett", "Eldoret", "Uasin Gishu"),
    ("Eldoreti", "Eldoret", "Uasin Gishu"),
    ("Kakamenga", "Kakamega", "Kakamega"),
    ("Kakameg", "Kakamega", "Kakamega"),
    ("homa bey", "Homa Bay", "Homa Bay"),
    ("Kitengala", "Kitengela", "Kajiado"),
    ("Naivashaa", "Naivasha", "Nakuru"),
    # counties, with or without "county" / "kaunti ya"
    ("Turkana", "Turkana", "Turkana"),
    ("Turkana county", "Turkana", "Turkana"),
    ("kaunti ya Turkana", "Turkana", "Turkana"),
    ("Tharaka Nithi", "Tharaka-Nithi", "Tharaka-Nithi"),
    ("Elgeyo Marakwet", "Elgeyo-Marakwet", "Elgeyo-Marakwet"),
    ("Taita Taveta county", "Taita-Taveta", "Taita-Taveta"),
    ("Trans Nzoia", "Trans-Nzoia", "Trans-Nzoia"),
    ("Uasin Gishu", "Uasin Gishu", "Uasin Gishu"),
    # sub-counties, with or without "sub county" / "subcounty"
    ("Kilifi North", "Kilifi North", "Kilifi"),
    ("Kilifi north sub county", "Kilifi North", "Kilifi"),
    ("Kilifi North subcounty", "Kilifi North", "Kilifi"),
    ("Embakasi East sub-county", "Embakasi East", "Nairobi"),
    ("Nakuru town east", "Nakuru Town East", "Nakuru"),
    ("Mavoko", "Mavoko", "Machakos"),
    ("Ganze", "Ganze", "Kilifi"),
    ("Mt Elgon", "Mt Elgon", "Bungoma"),
    ("Mathare", "Mathare", "Nairobi"),
    # sentences
    ("where can i get tested in homa bay town", "Homa Bay", "Homa Bay"),
    ("nataka kupima HIV niko Kisumu", "Kisumu", "Kisumu"),
    ("wapi naeza pata prep Kayole", "Kayole", "Nairobi"),
    ("i stay in Embakasi which clinic is near", "Embakasi", "Nairobi"),
    ("is there a clinic open on sunday in Ruiru", "Ruiru", "Kiambu"),
    ("kuna clinic karibu na githurai", "Githurai", "Nairobi"),
    ("hosi iko wapi near umoja", "Umoja 1", "Nairobi"),
    ("msee wapi naeza test HIV around Kangemi", "Kangemi", "Nairobi"),
    ("where can i find a health centre near thika road", "Thika", "Kiambu"),
    ("where can i get tested in kisimu", "Kisumu", "Kisumu"),
    ("kuna youth centre Korogocho", "Korogocho", "Nairobi"),
    # an ambiguous name settled by a county named in the same message
    ("Makutano Machakos", "Makutano", "Machakos"),
    ("nko Luanda, Busia", "Luanda", "Busia"),
    ("Rongai Nakuru", "Rongai", "Nakuru"),
]


@pytest.mark.parametrize(("text", "name", "county"), RESOLVED)
def test_what_young_people_type_resolves_to_the_place(
    gazetteer: Gazetteer, text: str, name: str, county: str
) -> None:
    resolution = gazetteer.resolve(text)
    assert resolution.place is not None, resolution
    assert (resolution.place.name, resolution.place.county) == (name, county)
    assert resolution.candidates == () and resolution.suggestions == ()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Kisumu", "town"),
        ("Kisumu county", "county"),
        ("kaunti ya Kisumu", "county"),
        ("Kaunti ya Nairobi", "county"),
        ("Kiambu", "town"),
        ("Kiambu sub county", "sub_county"),
        ("Machakos town", "town"),
        ("Kisii county", "county"),
        ("Kisii town", "town"),
        ("Samburu county", "county"),
    ],
)
def test_words_around_a_name_pick_its_kind(gazetteer: Gazetteer, text: str, kind: str) -> None:
    place = gazetteer.resolve(text).place
    assert place is not None and place.kind == kind


@pytest.mark.parametrize(
    ("text", "counties"),
    [
        ("Makutano", ("West Pokot", "Machakos")),
        ("Makutano town", ("West Pokot", "Machakos")),
        ("Luanda", ("Vihiga", "Busia")),
        ("Githunguri", ("Kiambu", "Machakos")),
        ("Rongai", ("Kajiado", "Nakuru")),
        ("Samburu", ("Samburu", "Kwale")),
        ("Makutano Kisumu", ("West Pokot", "Machakos")),
    ],
)
def test_a_name_shared_by_towns_in_several_counties_gives_candidates(
    gazetteer: Gazetteer, text: str, counties: tuple[str, ...]
) -> None:
    resolution = gazetteer.resolve(text)
    assert resolution.place is None
    assert tuple(place.county for place in resolution.candidates) == counties
    populations = [place.population for place in resolution.candidates]
    assert populations == sorted(populations, reverse=True)


def test_the_committed_data_really_shares_the_ambiguous_names(gazetteer: Gazetteer) -> None:
    towns = [p for p in read_places(PLACES_FILE) if p.name == "Makutano" and p.population >= 1000]
    assert {place.county for place in towns} == {"West Pokot", "Machakos"}


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("Wakanda", None),
        ("Narnia", None),
        ("asdf", None),
        ("Gotham City", None),
        ("Kisumuuu", "Kisumu"),
        ("nataka kupima kisimu", "Kisumu"),
        ("kisimu pls", "Kisumu"),
    ],
)
def test_an_unknown_place_gives_none_and_at_most_three_suggestions(
    gazetteer: Gazetteer, text: str, suggestion: str | None
) -> None:
    resolution = gazetteer.resolve(text)
    assert resolution.place is None and resolution.candidates == ()
    assert len(resolution.suggestions) <= 3
    if suggestion is None:
        assert resolution.suggestions == ()
    else:
        assert resolution.suggestions[0] == suggestion


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "!!!",
        "45",
        "tao",
        "town",
        "in the town",
        "hello",
        "jambo",
        "sawa sawa",
        "menu pls",
        "thanx",
        "nataka kupima tena",
        "nataka kwanza kupima",
        "mimi niko sawa",
        "I need condoms",
        "how do i use a condom",
        "msee wangu anakunywa keg kila siku",
        "rafiki yangu anajikata mikono",
        "bangi ina madhara gani",
        "this exam is killing me",
        "i think my friend is depressed",
        "niko broke nitumie airtime",
    ],
)
def test_chat_that_names_no_place_resolves_to_nothing(gazetteer: Gazetteer, text: str) -> None:
    resolution = gazetteer.resolve(text)
    assert resolution.place is None and resolution.candidates == ()


@pytest.mark.parametrize(
    ("text", "name"),
    [("Kwanza", "Kwanza"), ("niko Kwanza", "Kwanza"), ("Mwingi", "Mwingi"), ("niko Tena", "Tena")],
)
def test_everyday_words_that_are_places_need_a_cue_or_a_town(
    gazetteer: Gazetteer, text: str, name: str
) -> None:
    place = gazetteer.resolve(text).place
    assert place is not None and place.name == name


def test_every_county_resolves_by_name(gazetteer: Gazetteer, built: list[Place]) -> None:
    counties = [place for place in built if place.kind == "county"]
    assert len(counties) == 47
    for county in counties:
        assert gazetteer.resolve(f"{county.name} county").place == county


def test_every_alias_points_at_a_place_in_the_file(gazetteer: Gazetteer) -> None:
    for alias, (name, county) in ALIASES.items():
        resolution = gazetteer.resolve(alias)
        found = [resolution.place, *resolution.candidates]
        assert any(p is not None and (p.name, p.county) == (name, county) for p in found), alias


def test_resolving_is_fast_enough_for_a_chat(gazetteer: Gazetteer) -> None:
    texts = [text for text, _, _ in RESOLVED] + ["Wakanda", "nataka kupima kisimu"]
    started = time.perf_counter()
    for text in texts * 5:
        gazetteer.resolve(text)
    per_call_ms = (time.perf_counter() - started) * 1000 / (len(texts) * 5)
    assert per_call_ms < 5, "bench/places.py measures this properly; this only catches a scan"


# the import and the committed file


def test_building_twice_gives_the_same_places(built: list[Place]) -> None:
    assert build_places(SHARED) == built


def test_the_committed_places_file_is_what_the_import_writes(
    built: list[Place], tmp_path: Path
) -> None:
    target = tmp_path / "places.tsv"
    write_places(built, target)
    assert target.read_bytes() == PLACES_FILE.read_bytes()
    assert read_places(PLACES_FILE) == built


def test_the_committed_file_is_compact_and_complete(built: list[Place]) -> None:
    assert PLACES_FILE.stat().st_size < 1_500_000
    kinds = [place.kind for place in built]
    assert kinds.count("county") == 47 and kinds.count("sub_county") == 301
    assert kinds.count("town") > 6000
    assert all(-5 < p.lat < 5.5 and 33.5 < p.lon < 42 for p in built)
    assert len({(p.name, p.kind, p.county) for p in built}) == len(built)


def test_upstream_defects_are_corrected_on_import(built: list[Place]) -> None:
    sub_counties = {(p.name, p.county) for p in built if p.kind == "sub_county"}
    assert ("Ganze", "Kilifi") in sub_counties and ("Genzw", "Kilifi") not in sub_counties
    assert ("Embakasi Central", "Nairobi") in sub_counties
    assert ("Isinya", "Kajiado") in sub_counties
    assert not any(p.county == "Kisii" for p in built if p.kind == "sub_county")
    thika = next(p for p in built if p.name == "Thika" and p.kind == "town")
    assert thika.county == "Kiambu"
    machakos = next(p for p in built if (p.name, p.kind) == ("Machakos", "town"))
    sub_county = next(p for p in built if (p.name, p.kind) == ("Machakos Town", "sub_county"))
    assert (sub_county.lat, sub_county.lon) == (machakos.lat, machakos.lon)


def test_places_md_records_the_inputs_and_the_credit() -> None:
    text = PLACES_DOC.read_text(encoding="utf-8")
    for digest in input_digests(SHARED).values():
        assert digest in text
    assert "GeoNames (geonames.org)" in text and "CC BY 4.0" in text
    assert CREDIT.startswith("GeoNames (geonames.org)")
    assert "import_places" in text


def test_loading_reads_only_the_committed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "places.tsv"
    copy.write_bytes(PLACES_FILE.read_bytes())
    opened: list[str] = []
    real_open: Callable[..., Any] = io.open

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", recording_open)
    gazetteer = Gazetteer.load(copy)
    monkeypatch.undo()
    assert opened == [str(copy)]
    place = gazetteer.resolve("nko kisimu").place
    assert place is not None and place.name == "Kisumu"


def test_a_malformed_places_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "places.tsv"
    broken.write_text("name\tkind\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        read_places(broken)
    broken.write_text("\t".join(places.HEADER) + "\nKisumu\tcity\tKisumu\t0\t0\t0\n", "utf-8")
    with pytest.raises(ValueError, match="kind"):
        read_places(broken)
    with pytest.raises(ValueError, match="tab"):
        write_places([Place("a\tb", "town", "Kisumu", 0.0, 0.0, 0)], tmp_path / "out.tsv")


# text helpers


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("HOMA BAY!!", "homa bay"),
        ("Murang’a", "muranga"),
        ("Lang'ata", "langata"),
        ("Nyérì", "nyeri"),
        ("Lunga-Lunga", "lunga lunga"),
        ("  karibu   na\tKisumu ", "karibu na kisumu"),
    ],
)
def test_fold_ignores_case_accents_apostrophes_and_punctuation(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    ("a", "b", "bound", "expected"),
    [
        ("kisumu", "kisumu", 1, 0),
        ("nakru", "nakuru", 1, 1),
        ("ksiumu", "kisumu", 1, 1),
        ("kakamenga", "kakamega", 2, 1),
        ("eldorett", "eldoret", 2, 1),
        ("wakanda", "kakamega", 2, 3),
        ("asdf", "kisumu", 1, 2),
    ],
)
def test_distance_counts_edits_and_swaps_up_to_a_bound(
    a: str, b: str, bound: int, expected: int
) -> None:
    assert distance(a, b, bound) == expected
