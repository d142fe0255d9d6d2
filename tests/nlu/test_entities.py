"""Entities: places from the lookup table, services through synonyms to canonical ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import paths
from nlu.embedded import EmbeddedParser
from nlu.gazetteer import location_names
from nlu.training_data import TrainingData, load_file

SHARED = paths.PROJECT_ROOT.parent / "shared" / "data"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "niko Githurai 44 wapi naeza pata prep na condoms",
            {("location", "Githurai"), ("service", "prep"), ("service", "condoms")},
        ),
        (
            "where can i get P2 in homa bay",
            {("service", "emergency_contraception"), ("location", "homa bay")},
        ),
        ("nataka kupima ukimwi Kakamega", {("service", "hiv_testing"), ("location", "Kakamega")}),
        (
            "kituo cha vijana karibu na Kisumu",
            {("service", "youth_friendly"), ("location", "Kisumu")},
        ),
        ("sawa sawa asante", set()),
    ],
)
def test_entities_are_found_and_mapped(
    parser: EmbeddedParser, text: str, expected: set[tuple[str, str]]
) -> None:
    found = {(e.entity, e.value) for e in parser.parse_sync(text).entities}
    assert found == expected
    for entity in parser.parse_sync(text).entities:
        assert (
            text[entity.start : entity.end].lower() == entity.value.lower()
            or entity.entity == "service"
        )


def test_the_committed_lookup_has_every_county() -> None:
    data = TrainingData()
    load_file(paths.LOCATION_LOOKUP, data)
    names = {n.lower() for n in data.lookups["location"]}
    for county in ("mombasa", "kisumu", "homa bay", "turkana", "nairobi", "tharaka-nithi", "kisii"):
        assert county in names, county
    assert len(names) > 300


def test_the_lookup_is_reproducible_from_the_reference_data(tmp_path: Path) -> None:
    assert SHARED.is_dir(), "shared/data sits beside the repository on developer and CI machines"
    names = location_names(SHARED)
    data = TrainingData()
    load_file(paths.LOCATION_LOOKUP, data)
    assert names == data.lookups["location"], "run `healthbot nlu lookups` and commit the result"
    assert not {"sawa sawa", "jambo", "kawaida", "central"} & {n.lower() for n in names}
