"""Find a service: which service, where (a pin or a typed place), then the nearest facilities."""

from __future__ import annotations

import math
import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import MessageDB, UserDB
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Reply
from tests.factories import USER, button, command, location, payloads, plain, text

HOMA_BAY = (-0.5273, 34.4571)
NAIROBI_CBD = (-1.2833, 36.8167)
KAMPALA = (0.3476, 32.5825)


async def choose(engine: DialogueEngine, language: str) -> None:
    await engine.handle(command("start"))
    await engine.handle(button(f"lang:{language}"))


async def user_row(sessions: async_sessionmaker[AsyncSession]) -> UserDB:
    async with sessions() as session:
        row = await session.get(UserDB, USER)
        assert row is not None
        return row


def facility_names(reply: Reply) -> list[str]:
    return re.findall(r"<b>\d+\. ([^<]+)</b>", reply.text)


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_the_menu_asks_which_service_then_where(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession], language: str
) -> None:
    await choose(engine, language)
    [services] = await engine.handle(button("ask:find_service"))
    assert "svc:hiv_testing" in payloads(services) and "svc:pep" in payloads(services)
    [where] = await engine.handle(button("svc:hiv_testing"))
    assert where.request_location  # a "share my location" button
    expected = "Share my location" if language == "en" else "Tuma mahali nilipo"
    assert expected in where.request_location
    row = await user_row(sessions)
    assert row.state == "referral_place" and row.state_data == {"service": "hiv_testing"}


async def test_a_shared_pin_in_homa_bay_lists_homa_bay_facilities_nearest_first(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:hiv_testing"))
    [reply] = await engine.handle(location(*HOMA_BAY))
    names = facility_names(reply)
    assert len(names) == 5
    distances = [float(d) for d in re.findall(r"([\d.]+) km away", plain(reply))]
    assert distances == sorted(distances) and distances[0] < 5
    assert "Homa Bay" in plain(reply)
    assert "openstreetmap.org" in reply.text and "GeoNames" in plain(reply)
    more = [p for p in payloads(reply) if p.startswith("near:hiv_testing:")]
    assert more == ["near:hiv_testing:-0.527,34.457,5"]
    [page_two] = await engine.handle(button(more[0]))
    assert not set(facility_names(page_two)) & set(names)
    # the location is never stored: state keeps the service at most
    row = await user_row(sessions)
    assert "34.4" not in str(row.state_data) and "-0.52" not in str(row.state_data)


@pytest.mark.parametrize(
    ("typed", "place"),
    [
        ("Homa Bay", "Homa Bay"),
        ("karibu na Homa Bay", "Homa Bay"),
        ("Kisumu mjini", "Kisumu"),
        ("kisimu", "Kisumu"),
        ("niko Kibera", "Kibera"),
    ],
)
async def test_a_typed_place_in_english_kiswahili_or_with_a_typo(
    engine: DialogueEngine, typed: str, place: str
) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:condoms"))
    [reply] = await engine.handle(text(typed))
    assert len(facility_names(reply)) >= 1, plain(reply)
    assert place in plain(reply)


async def test_a_question_that_names_service_and_place_answers_at_once(
    engine: DialogueEngine,
) -> None:
    await choose(engine, "en")
    [reply] = await engine.handle(text("where can I get an hiv test in Homa Bay"))
    assert facility_names(reply), plain(reply)
    assert "Homa Bay" in plain(reply)


async def test_pep_ranks_24_hour_facilities_first_and_says_why(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:pep"))
    [reply] = await engine.handle(location(*NAIROBI_CBD))
    body = plain(reply)
    assert "does not record which facilities give PEP" in body
    assert "open 24 hours are listed first" in body
    assert "open 24 hours" in body.split("1. ", 1)[1].split("\n\n", 1)[0]


async def test_prep_is_honest_that_the_list_does_not_record_it(engine: DialogueEngine) -> None:
    await choose(engine, "sw")
    await engine.handle(button("svc:prep"))
    [reply] = await engine.handle(location(*HOMA_BAY))
    assert "haionyeshi vituo vinavyotoa PrEP" in plain(reply)
    assert facility_names(reply)


async def test_a_pin_outside_kenya_gets_an_honest_answer_and_the_helplines(
    engine: DialogueEngine,
) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:hiv_testing"))
    [reply] = await engine.handle(location(*KAMPALA))
    assert "outside Kenya" in plain(reply) and "1190" in plain(reply)
    assert not facility_names(reply)


async def test_an_unknown_place_asks_for_a_nearby_town(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:hiv_testing"))
    [reply] = await engine.handle(text("Wakanda"))
    assert "couldn't find that place" in plain(reply)
    assert reply.request_location


async def test_a_pin_without_a_chosen_service_asks_which_service_keeping_the_pin_in_buttons(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await choose(engine, "en")
    [reply] = await engine.handle(location(*HOMA_BAY))
    assert "svc:gbv_care:-0.527,34.457" in payloads(reply)
    [results] = await engine.handle(button("svc:gbv_care:-0.527,34.457"))
    assert facility_names(results)
    row = await user_row(sessions)
    assert "34.4" not in str(row.state_data)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(91.0, 0.0), (0.0, 180.5), (1e300, 36.8), (0.0, 1e26), (math.nan, 36.8), (-math.inf, 0.0)],
)
@pytest.mark.parametrize("service_chosen", [False, True])
async def test_a_pin_off_the_globe_is_answered_like_no_pin(
    engine: DialogueEngine, lat: float, lon: float, service_chosen: bool
) -> None:
    await choose(engine, "en")
    if service_chosen:
        await engine.handle(button("svc:hiv_testing"))
    [reply] = await engine.handle(location(lat, lon))
    assert "I can only read text" in plain(reply)
    assert "topic:hiv" in payloads(reply)


@pytest.mark.parametrize(
    "forged",
    [
        "near:hiv_testing:999,999",
        "near:hiv_testing:abc,def",
        "near:hiv_testing:-1.28,36.81,99999",
        "near:not_a_service:-1.28,36.81",
        "svc:drop table",
        "near:hiv_testing",
        "svc:hiv_testing:1,2,3,4",
        "near:hiv_testing:nan,nan",
        "near:hiv_testing:-1.28,inf",
        "near:hiv_testing:-1.28,36.81,-5",
        "near:hiv_testing:-1.28,36.81,²",
        "near:hiv_testing:-1.28,36.81,+5",
    ],
)
async def test_forged_referral_buttons_get_the_stale_button_reply(
    engine: DialogueEngine, forged: str
) -> None:
    await choose(engine, "en")
    [reply] = await engine.handle(button(forged))
    assert "expired or isn't valid" in plain(reply)


async def test_a_crisis_while_asked_for_a_place_gets_the_safety_answer(
    engine: DialogueEngine,
) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:hiv_testing"))
    [reply] = await engine.handle(text("I was raped yesterday"))
    assert "1195" in reply.text


async def test_a_new_question_while_asked_for_a_place_is_answered(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:hiv_testing"))
    [reply] = await engine.handle(text("how does prep work"))
    assert "PrEP" in plain(reply)


async def test_the_crisis_gbv_button_goes_straight_to_where(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    [reply] = await engine.handle(button("svc:gbv_care"))
    assert reply.request_location


async def test_a_topic_answer_offers_where_to_get_it(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    [answer] = await engine.handle(button("ask:hiv_testing"))
    assert "svc:hiv_testing" in payloads(answer)


async def test_the_pin_is_not_logged_anywhere(
    engine: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    await choose(engine, "en")
    await engine.handle(button("svc:hiv_testing"))
    await engine.handle(location(*HOMA_BAY))
    assert "34.45" not in caplog.text and "-0.52" not in caplog.text
    async with sessions() as session:
        kinds = [m.kind for m in await session.scalars(select(MessageDB))]
    assert "location" in kinds


async def test_nothing_within_50_km_widens_the_search_and_says_so(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:youth_friendly"))
    [reply] = await engine.handle(location(4.0, 36.2))  # near Lake Turkana's eastern shore
    assert "nothing within 50 km" in plain(reply)
    distances = [float(d) for d in re.findall(r"([\d.]+) km away", plain(reply))]
    assert distances and min(distances) > 50


async def test_a_name_shared_by_two_counties_asks_which_one(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    await engine.handle(button("svc:hiv_testing"))
    [reply] = await engine.handle(text("Makutano"))
    assert "more than one place" in plain(reply)
    choices = [p for p in payloads(reply) if p.startswith("near:hiv_testing:")]
    assert len(choices) >= 2
    [results] = await engine.handle(button(choices[0]))
    assert facility_names(results)
