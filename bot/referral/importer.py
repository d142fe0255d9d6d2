"""Import the Kenya Master Health Facility List (KMHFL) CSV into the compact `facilities.tsv`.

The output is deterministic (same input and service map, same bytes), so it is committed and a
test regenerates it. Facts are never edited here: corrections go in `curated.yml`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bot import paths
from bot.referral.directory import (
    COLUMNS,
    FACILITIES_FILE,
    SERVICE_MAP_FILE,
    SERVICES_DIR,
    DirectoryError,
    ServiceMap,
    load_service_map,
)

PROVENANCE_FILE = "PROVENANCE.md"
DEFAULT_CSV = paths.PROJECT_ROOT.parent / "shared" / "data" / "kmhfl_facilities_2020-05.csv"
REQUIRED = (
    "mfl_code",
    "kmhfl_id",
    "name",
    "facility_type",
    "keph_level",
    "owner_type",
    "county",
    "sub_county",
    "ward",
    "latitude",
    "longitude",
    "open_whole_day",
    "open_weekends",
    "open_late_night",
    "open_public_holidays",
    "operation_status",
    "closed",
    "services",
)
FLAG_COLUMNS = ("open_whole_day", "open_weekends", "open_late_night", "open_public_holidays")
PROVENANCE = """\
# Facility directory: provenance

`{tsv}` is generated from the Kenya Master Health Facility List; do not edit it by hand.
Corrections and additions go in `curated.yml`, each with its source.

- **Source**: Kenya Master Health Facility List (KMHFL), Ministry of Health, Kenya
  (api.kmhfl.health.go.ke), scraped in May 2020 and published in github.com/mainanick/healthkenya
  at commit c9f1035 (`packages/data/dataset/county_facilities/<county>.json`), flattened to one CSV.
- **Date of the data**: 2020-05.
- **Licence**: the scrape is MIT licensed, (c) 2020 Maina Nick; the facts are Kenya Ministry of
  Health public data. Credit "Kenya Master Health Facility List (Ministry of Health), 2020".
- **Input**: `{csv}`, sha256 `{csv_sha}`.
- **Service map**: `{map}`, sha256 `{map_sha}`.
- **Rows**: {rows} operational facilities; {located} with coordinates; {serving} record at least
  one of the bot's services.
- **Columns** (tab-separated, UTF-8, sorted by county, sub-county, name):
  {columns}.
- **Values**: `id` is the MFL code (the KMHFL id when there is none); `lat`/`lon` are rounded to
  5 decimals and empty when unknown; the opening flags are 1/0 (`open_24h` is KMHFL's
  `open_whole_day`); `services` holds canonical ids, mapped from KMHFL's names by `{map}`.
- **Regenerate**: `healthbot services import` (the same as
  `python -m bot.referral.importer <csv> content/services`) after editing `{map}` or with a new
  KMHFL file; then commit `{tsv}` and this note.
"""


def import_facilities(
    csv_path: Path, out_dir: Path, *, service_map: Path = SERVICES_DIR / SERVICE_MAP_FILE
) -> int:
    """Write `out_dir/facilities.tsv` and `out_dir/PROVENANCE.md`; return the number of rows."""
    mapping = load_service_map(service_map)
    rows = sorted(_rows(csv_path, mapping))
    lines = ["\t".join(COLUMNS), *("\t".join(cells) for _, cells in rows)]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / FACILITIES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    cells = [c for _, c in rows]
    note = PROVENANCE.format(
        tsv=FACILITIES_FILE,
        csv=csv_path.name,
        csv_sha=_sha256(csv_path),
        map=service_map.name,
        map_sha=_sha256(service_map),
        rows=len(cells),
        located=sum(1 for c in cells if c[COLUMNS.index("lat")]),
        serving=sum(1 for c in cells if c[COLUMNS.index("services")]),
        columns=", ".join(f"`{c}`" for c in COLUMNS),
    )
    (out_dir / PROVENANCE_FILE).write_text(note, encoding="utf-8")
    return len(rows)


def _rows(
    csv_path: Path, mapping: ServiceMap
) -> Iterator[tuple[tuple[str, str, str, str], list[str]]]:
    """(sort key, cells) for each operational facility."""
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = sorted(set(REQUIRED) - set(reader.fieldnames or ()))
        if missing:
            raise DirectoryError(f"{csv_path.name}: missing columns {', '.join(missing)}")
        unreviewed: set[str] = set()
        for number, record in enumerate(reader, 2):
            if record["operation_status"] != "Operational" or record["closed"] == "True":
                continue
            names = [n for n in record["services"].split("|") if n]
            unreviewed.update(n for n in names if n not in mapping.names)
            cells = _cells(record, mapping, f"{csv_path.name}:{number}")
            yield (cells[5], cells[6], cells[1], record["kmhfl_id"]), cells
    unreviewed -= mapping.not_mapped
    if unreviewed:
        raise DirectoryError(
            f"KMHFL service names missing from {SERVICE_MAP_FILE} (map them or list them under "
            f"not_mapped): {', '.join(sorted(unreviewed))}"
        )


def _cells(record: Mapping[str, str], mapping: ServiceMap, where: str) -> list[str]:
    """One facility's cells, in COLUMNS order."""
    texts = ("name", "facility_type", "keph_level", "owner_type", "county", "sub_county", "ward")
    names = filter(None, record["services"].split("|"))
    facility_id = _clean(record["mfl_code"]) or _clean(record["kmhfl_id"])
    if not facility_id:
        raise DirectoryError(f"{where}: neither mfl_code nor kmhfl_id")
    return [
        facility_id,
        *(_clean(record[key]) for key in texts),
        *_coordinates(record["latitude"], record["longitude"], where),
        *(_flag(record[key], where) for key in FLAG_COLUMNS),
        ",".join(sorted(mapping.ids(names))),
    ]


def _clean(text: str) -> str:
    """One line of text: tabs, newlines and runs of spaces become a single space."""
    return " ".join(text.split())


def _coordinates(lat: str, lon: str, where: str) -> tuple[str, str]:
    """Both rounded to 5 decimals (about 1 m), or both empty when either is missing."""
    if not lat.strip() or not lon.strip():
        return "", ""
    try:
        values = float(lat), float(lon)
    except ValueError as error:
        raise DirectoryError(f"{where}: bad coordinates {lat!r}, {lon!r}") from error
    if not all(math.isfinite(v) for v in values):
        raise DirectoryError(f"{where}: bad coordinates {lat!r}, {lon!r}")
    text = tuple(f"{v:.5f}" for v in values)
    return text[0].replace("-0.00000", "0.00000"), text[1].replace("-0.00000", "0.00000")


def _flag(value: str, where: str) -> str:
    if value not in ("True", "False"):
        raise DirectoryError(f"{where}: opening flag {value!r} is neither True nor False")
    return "1" if value == "True" else "0"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bot.referral.importer [CSV] [OUT_DIR]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("out_dir", nargs="?", type=Path, default=SERVICES_DIR)
    args = parser.parse_args(argv)
    rows = import_facilities(args.csv, args.out_dir)
    print(f"wrote {rows} facilities to {args.out_dir / FACILITIES_FILE}")


if __name__ == "__main__":
    main()
