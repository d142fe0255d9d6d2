"""The facility directory: the import, the service mapping, the overlay and the distance search."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from bot.referral.directory import (
    COLUMNS,
    CURATED_FILE,
    FACILITIES_FILE,
    KMHFL_SOURCE,
    SERVICE_MAP_FILE,
    SERVICES_DIR,
    Directory,
    DirectoryError,
    Match,
    in_kenya,
    map_link,
)
from bot.referral.importer import PROVENANCE_FILE, import_facilities

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
KMHFL_CSV = SHARED_DATA / "kmhfl_facilities_2020-05.csv"
HOMA_BAY = (-0.5273, 34.4571)
NAIROBI_CBD = (-1.2864, 36.8172)
KENYATTA_NATIONAL_HOSPITAL = "13023"


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.load(SERVICES_DIR)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the committed services folder, with an empty overlay."""
    for name in (FACILITIES_FILE, SERVICE_MAP_FILE):
        shutil.copy(SERVICES_DIR / name, tmp_path / name)
    (tmp_path / CURATED_FILE).write_text("facilities: []\n", encoding="utf-8")
    return tmp_path


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The textbook formula, written out again to check the vectorised one."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


# --- import -------------------------------------------------------------------------------


def test_import_is_reproducible_and_matches_the_committed_file(tmp_path: Path) -> None:
    assert KMHFL_CSV.exists(), f"the shared data is expected beside the repository: {KMHFL_CSV}"
    first, second = tmp_path / "first", tmp_path / "second"
    assert import_facilities(KMHFL_CSV, first) == 12379
    assert import_facilities(KMHFL_CSV, second) == 12379
    for name in (FACILITIES_FILE, PROVENANCE_FILE):
        produced = (first / name).read_bytes()
        assert produced == (second / name).read_bytes(), name
        assert produced == (SERVICES_DIR / name).read_bytes(), f"{name}: re-run the import"


def test_provenance_names_source_licence_checksum_and_command() -> None:
    note = (SERVICES_DIR / PROVENANCE_FILE).read_text(encoding="utf-8")
    for expected in (
        "Kenya Master Health Facility List",
        "MIT",
        "Maina Nick",
        "Ministry of Health",
        "69fe41104c0109daf966d00fb1f96babd62f8323e2e63276e01d5a9090151576",
        "12379",
        "healthbot services import",
    ):
        assert expected in note


CSV_HEADER = (
    "mfl_code,name,facility_type,keph_level,owner_type,county,sub_county,ward,latitude,longitude,"
    "open_whole_day,open_public_holidays,open_weekends,open_late_night,operation_status,closed,"
    "kmhfl_id,services\n"
)


def test_import_cleans_text_rounds_coordinates_and_sorts(tmp_path: Path) -> None:
    csv_path = tmp_path / "kmhfl.csv"
    csv_path.write_text(
        CSV_HEADER + '1,"Zeta\tClinic",Dispensary,Level 2,Private,Kisumu,Kisumu Central,Ward,'
        "-0.1234567,34.7654321,True,False,True,False,Operational,False,k1,"
        "HIV Testing Services|Natural\n"
        + ',"Alpha\nClinic",Dispensary,Level 2,Private,Kisumu,Kisumu Central,Ward,,,'
        "False,True,False,True,Operational,False,k2,\n"
        + "3,Closed Clinic,Dispensary,Level 2,Private,Kisumu,Kisumu Central,Ward,,,"
        "False,False,False,False,Closed,True,k3,\n",
        encoding="utf-8",
    )
    assert import_facilities(csv_path, tmp_path / "out") == 2
    lines = (tmp_path / "out" / FACILITIES_FILE).read_text(encoding="utf-8").splitlines()
    assert lines[1].split("\t") == [
        "k2", "Alpha Clinic", "Dispensary", "Level 2", "Private", "Kisumu", "Kisumu Central",
        "Ward", "", "", "0", "0", "1", "1", "",
    ]  # fmt: skip
    assert lines[2].split("\t") == [
        "1", "Zeta Clinic", "Dispensary", "Level 2", "Private", "Kisumu", "Kisumu Central",
        "Ward", "-0.12346", "34.76543", "1", "1", "0", "0", "family_planning,hiv_testing",
    ]  # fmt: skip


def test_import_refuses_a_service_name_nobody_reviewed(tmp_path: Path) -> None:
    csv_path = tmp_path / "kmhfl.csv"
    csv_path.write_text(
        CSV_HEADER + "1,Clinic,Dispensary,Level 2,Private,Kisumu,Kisumu Central,Ward,,,"
        "False,False,False,False,Operational,False,k1,PrEP Services\n",
        encoding="utf-8",
    )
    with pytest.raises(DirectoryError, match="PrEP Services"):
        import_facilities(csv_path, tmp_path / "out")


# --- service mapping ----------------------------------------------------------------------


def test_a_national_hospital_maps_its_kmhfl_services(directory: Directory) -> None:
    facility = directory.get(KENYATTA_NATIONAL_HOSPITAL)
    assert facility is not None
    assert facility.name == "Kenyatta National Hospital"
    assert facility.services == {
        "antenatal",  # Focused Antenatal Care, Specialised ANC
        "art",  # HIV treatment and care
        "condoms",  # Condom Distribution & STI Prevention
        "emergency",  # Accident and Emergency casualty Services
        "family_planning",  # Short Term, Long Term, Natural, Permanent
        "gbv_care",  # Basic / Comprehensive Services for GBV Survivors
        "hiv_testing",  # HIV Testing Services
        "mental_health",  # Basic / Specialised Mental Health Services
        "sti_care",  # Condom Distribution & STI Prevention
        "youth_friendly",  # Youth - Friendly Services
    }
    assert facility.source == KMHFL_SOURCE
    assert facility.open_24h


def test_a_dispensary_with_hiv_testing_and_family_planning(directory: Directory) -> None:
    facility = directory.get("14269")  # Borrowonin Dispensary, Baringo
    assert facility is not None
    assert facility.services == {
        "antenatal",
        "condoms",
        "family_planning",
        "hiv_testing",
        "sti_care",
    }


def test_comprehensive_gbv_services_map_to_gbv_care(directory: Directory) -> None:
    facility = directory.get("23040")  # LVCT Health Hurlingham DICE
    assert facility is not None
    assert "gbv_care" in facility.services


def test_proxies_stand_in_for_services_the_list_does_not_record(directory: Directory) -> None:
    assert directory.proxies("prep") == ("hiv_testing", "art")
    assert directory.proxies("pep") == ("emergency", "gbv_care", "art")
    assert directory.proxies("emergency_contraception") == (
        "family_planning",
        "gbv_care",
        "emergency",
    )
    assert directory.proxies("hiv_testing") == ()
    assert not directory.offered("prep")
    assert not directory.offered("pep")
    assert directory.offered("hiv_testing")
    assert all(directory.offered(s) for s in directory.proxies("pep"))


# --- distance ranking ---------------------------------------------------------------------


def test_homa_bay_pin_finds_homa_bay_facilities_first(directory: Directory) -> None:
    matches = directory.nearest(*HOMA_BAY, ["hiv_testing"])
    assert len(matches) == 5
    assert matches[0].km < 2.0
    assert {m.facility.county for m in matches} == {"Homa Bay"}
    assert all("hiv_testing" in m.facility.services for m in matches)
    assert [m.km for m in matches] == sorted(m.km for m in matches)


def test_nairobi_pin_finds_nairobi_facilities(directory: Directory) -> None:
    matches = directory.nearest(*NAIROBI_CBD, [], limit=10)
    assert {m.facility.county for m in matches} == {"Nairobi"}
    assert matches[-1].km < 1.0


def test_distance_matches_a_hand_computed_haversine(directory: Directory) -> None:
    matches = directory.nearest(*NAIROBI_CBD, ["gbv_care"], limit=100)
    knh = next(m for m in matches if m.facility.id == KENYATTA_NATIONAL_HOSPITAL)
    # By hand: 0.01448 deg of latitude = 1.610 km, 0.00986 deg of longitude at 1.3 deg S
    # = 1.096 km; sqrt(1.610^2 + 1.096^2) = 1.948 km.
    assert knh.km == pytest.approx(1.948, abs=0.1)
    far = directory.nearest(*HOMA_BAY, [], limit=1, max_km=None, offset=0)[0]
    lat, lon = far.facility.lat, far.facility.lon
    assert lat is not None and lon is not None
    assert far.km == pytest.approx(haversine_km(*HOMA_BAY, lat, lon), abs=0.01)
    mombasa = directory.nearest(-4.0486, 39.6693, ["emergency"], limit=1)[0].facility
    assert mombasa.lat is not None and mombasa.lon is not None
    from_homa_bay = directory.nearest(*HOMA_BAY, ["emergency"], limit=2000, max_km=None)
    km = next(m.km for m in from_homa_bay if m.facility.id == mombasa.id)
    assert km == pytest.approx(haversine_km(*HOMA_BAY, mombasa.lat, mombasa.lon), abs=0.1)
    assert 600 < km < 700


def test_max_km_limits_the_search(directory: Directory) -> None:
    near = directory.nearest(*HOMA_BAY, ["hiv_testing"], limit=500, max_km=5.0)
    assert near and all(m.km <= 5.0 for m in near)
    wider = directory.nearest(*HOMA_BAY, ["hiv_testing"], limit=500, max_km=20.0)
    assert len(wider) > len(near)
    chalbi_desert = (2.75, 37.50)
    assert directory.nearest(*chalbi_desert, ["youth_friendly"], max_km=5.0) == []
    anywhere = directory.nearest(*chalbi_desert, ["youth_friendly"], max_km=None)
    assert len(anywhere) == 5 and anywhere[0].km > 5.0


def test_open_24h_first_puts_round_the_clock_facilities_first(directory: Directory) -> None:
    plain = directory.nearest(*HOMA_BAY, ["gbv_care"], limit=10)
    urgent = directory.nearest(*HOMA_BAY, ["gbv_care"], limit=10, open_24h_first=True)
    assert not plain[0].facility.open_24h
    flags = [m.facility.open_24h for m in urgent]
    assert flags[0] and flags == sorted(flags, reverse=True)
    for group in (True, False):
        km = [m.km for m in urgent if m.facility.open_24h is group]
        assert km == sorted(km)


@pytest.mark.parametrize("open_24h_first", [False, True])
def test_offset_pages_through_one_order(directory: Directory, open_24h_first: bool) -> None:
    def page(offset: int, limit: int) -> list[Match]:
        return directory.nearest(
            *NAIROBI_CBD, ["hiv_testing"], limit=limit, offset=offset, open_24h_first=open_24h_first
        )

    whole = page(0, 15)
    assert page(0, 5) + page(5, 5) + page(10, 5) == whole
    assert len({m.facility.id for m in whole}) == 15
    assert page(10_000, 5) == []


def test_any_of_several_services(directory: Directory) -> None:
    matches = directory.nearest(*HOMA_BAY, ("emergency", "gbv_care", "art"), limit=20)
    assert all(m.facility.services & {"emergency", "gbv_care", "art"} for m in matches)


def test_an_unknown_service_is_refused(directory: Directory) -> None:
    with pytest.raises(DirectoryError, match="unknown service"):
        directory.nearest(*HOMA_BAY, ["tarot"])


# --- curated overlay ----------------------------------------------------------------------


def test_committed_corrections_add_gbv_care_with_their_source(directory: Directory) -> None:
    facility = directory.get("13117")
    assert facility is not None
    assert facility.name == "Nairobi Womens Hospital (Hurlingham)"
    assert "gbv_care" in facility.services
    assert facility.source.startswith(f"{KMHFL_SOURCE}, corrected: Gender Violence Recovery")


def test_curated_correction_and_addition_are_applied(folder: Path) -> None:
    (folder / CURATED_FILE).write_text(
        """
facilities:
  - id: "13023"
    corrects: true
    name: Kenyatta National Hospital (KNH)
    open_weekends: true
    services: [gbv_care]
    source: {title: "A test source", url: "https://example.org/knh"}
    added_on: 2026-01-31
  - id: curated-homa-bay-youth-centre
    name: Homa Bay Youth Centre
    type: Medical Clinic
    county: Homa Bay
    sub_county: Homa Bay Town
    lat: -0.5274
    lon: 34.4572
    open_24h: true
    services: [youth_friendly, hiv_testing]
    source: {title: "Another test source", url: "https://example.org/youth"}
    added_on: 2026-01-31
""",
        encoding="utf-8",
    )
    directory = Directory.load(folder)
    assert len(directory) == 12380
    knh = directory.get(KENYATTA_NATIONAL_HOSPITAL)
    assert knh is not None
    assert knh.name == "Kenyatta National Hospital (KNH)"
    assert knh.services == {"gbv_care"}
    assert knh.open_weekends and knh.open_24h and knh.county == "Nairobi"
    assert knh.source == f"{KMHFL_SOURCE}, corrected: A test source"
    first = directory.nearest(*HOMA_BAY, ["youth_friendly"], limit=1)[0]
    assert first.facility.id == "curated-homa-bay-youth-centre"
    assert first.facility.source == "Another test source"
    assert first.facility.open_24h and not first.facility.open_weekends
    assert first.km < 0.1


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("- {id: curated-x, name: X Clinic, type: Clinic, county: Nairobi, sub_county: Kibra, "
         "lat: -1.3, lon: 36.8, services: [hiv_testing], added_on: 2026-01-31}", "source"),
        ('- {id: "13023", corrects: true, add_services: [gbv_care], added_on: 2026-01-31, '
         "source: {title: No url here}}", "source.url"),
        ('- {id: "99999999", corrects: true, add_services: [gbv_care], added_on: 2026-01-31, '
         "source: {title: T source, url: 'https://example.org'}}", "corrects no facility"),
        ('- {id: "13023", add_services: [gbv_care], added_on: 2026-01-31, '
         "source: {title: T source, url: 'https://example.org'}}", "corrects: true"),
        ("- {id: curated-x, name: X Clinic, type: Clinic, county: Nairobi, sub_county: Kibra, "
         "lat: -1.3, lon: 36.8, services: [tarot], added_on: 2026-01-31, "
         "source: {title: T source, url: 'https://example.org'}}", "unknown service"),
        ("- {id: curated-x, name: X Clinic, type: Clinic, county: Nairobi, sub_county: Kibra, "
         "lat: 36.8, lon: -1.3, services: [hiv_testing], added_on: 2026-01-31, "
         "source: {title: T source, url: 'https://example.org'}}", "not in Kenya"),
        ("- {id: curated-x, name: X Clinic, added_on: 2026-01-31, "
         "source: {title: T source, url: 'https://example.org'}}", "an addition needs"),
    ],
)  # fmt: skip
def test_a_bad_curated_entry_is_refused(folder: Path, entry: str, message: str) -> None:
    (folder / CURATED_FILE).write_text(f"facilities:\n  {entry}\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match=message) as caught:
        Directory.load(folder)
    assert "curated.yml" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id\tname\n1\tX\n", "header"),
        (
            "\t".join(COLUMNS) + "\n1\tX\n",
            r"facilities.tsv:2: 2 fields",
        ),
    ],
)
def test_a_malformed_facility_file_is_refused(folder: Path, content: str, message: str) -> None:
    (folder / FACILITIES_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(DirectoryError, match=message):
        Directory.load(folder)


# --- places -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Nairobi", -1.2864, 36.8172),
        ("Mombasa", -4.0435, 39.6682),
        ("Lodwar", 3.1191, 35.5973),
        ("Mandera", 3.9373, 41.8569),
        ("Kisumu", -0.0917, 34.7680),
        ("Lamu", -2.2717, 40.9020),
        ("Moyale", 3.5167, 39.0584),
        ("Busia", 0.4608, 34.1115),
        ("Taveta", -3.3986, 37.6839),
        ("Lokichoggio", 4.2041, 34.3486),
    ],
)
def test_places_in_kenya(place: str, lat: float, lon: float, directory: Directory) -> None:
    assert in_kenya(lat, lon), place
    assert directory.serves(lat, lon), place


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Kampala", 0.3476, 32.5825),
        ("Dar es Salaam", -6.7924, 39.2083),
        ("Indian Ocean off Kilifi", -3.7, 40.6),
        ("Indian Ocean off Lamu", -2.6, 41.6),
        ("Arusha", -3.3869, 36.6830),
        ("Moshi", -3.3349, 37.3404),
        ("Musoma", -1.5000, 33.8000),
        ("Kotido", 3.0106, 34.1128),
        ("Moroto", 2.5345, 34.6664),
        ("Mega, Ethiopia", 4.05, 38.30),
        ("Kismayo", -0.3582, 42.5454),
        ("London", 51.5, -0.12),
    ],
)
def test_places_outside_kenya(place: str, lat: float, lon: float) -> None:
    assert not in_kenya(lat, lon), place


def test_every_facility_with_coordinates_is_in_kenya(directory: Directory) -> None:
    located = directory.nearest(0.0, 38.0, [], limit=20_000, max_km=None)
    assert len(located) == 10898
    assert all(in_kenya(m.facility.lat or 0, m.facility.lon or 0) for m in located)


def test_map_link_points_at_the_facility() -> None:
    assert map_link(-0.52968, 34.45675) == (
        "https://www.openstreetmap.org/?mlat=-0.52968&mlon=34.45675#map=17/-0.52968/34.45675"
    )
