"""Readiness (database and NLU), and the metrics an operator watches, changing as the bot works."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot import metrics
from bot.db.models import CaseDB, UserDB, utcnow
from bot.db.session import create_engine, session_factory
from bot.dialogue.engine import DialogueEngine
from bot.health import health_routes, readiness
from nlu.embedded import EmbeddedParser
from nlu.rasa import FallbackParser, RasaParser
from tests import factories


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def all_errors() -> float:
    """healthbot_errors_total summed over every exception type."""
    return sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "healthbot_errors"
        for s in m.samples
        if s.name == "healthbot_errors_total"
    )


async def test_ready_when_the_database_and_the_parser_answer(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser
) -> None:
    assert await readiness(sessions, parser) == (
        True,
        {"database": "ok", "nlu": {"embedded": "ok"}},
    )


async def test_not_ready_without_the_database(parser: EmbeddedParser) -> None:
    broken = create_engine("postgresql://postgres@127.0.0.1:9/none")  # nothing listens there
    try:
        ready, details = await readiness(session_factory(broken), parser)
    finally:
        await broken.dispose()
    assert (ready, details["database"]) == (False, "down")


async def test_a_rasa_outage_is_reported_but_the_embedded_parser_keeps_it_ready(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser
) -> None:
    fallback = FallbackParser(RasaParser("http://127.0.0.1:9"), parser)  # nothing listens there
    try:
        ready, details = await readiness(sessions, fallback)
    finally:
        await fallback.close()
    assert ready and details["nlu"] == {"rasa": "down", "embedded": "ok"}


async def test_health_routes_answer_200_or_503() -> None:
    async def up() -> tuple[bool, dict[str, object]]:
        return True, {"database": "ok"}

    async def down() -> tuple[bool, dict[str, object]]:
        return False, {"database": "down"}

    for probe, status in ((up, 200), (down, 503)):
        transport = httpx.ASGITransport(app=Starlette(routes=health_routes(probe)))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            answer = await client.get("/readyz")
            assert answer.status_code == status
            assert answer.json()["status"] == ("ready" if status == 200 else "not ready")


async def test_turns_crises_and_errors_are_counted(
    engine: DialogueEngine, engine_without_database: DialogueEngine
) -> None:
    before = {
        "messages": sample("healthbot_messages_total", channel="telegram"),
        "replies": sample("healthbot_replies_total", channel="telegram"),
        "turns": sample("healthbot_turn_seconds_count"),
        "suicide": sample("healthbot_crisis_events_total", category="suicide"),
    }
    await engine.handle(factories.command("help"))
    await engine.handle(factories.text("I want to kill myself"))
    assert sample("healthbot_messages_total", channel="telegram") == before["messages"] + 2
    assert sample("healthbot_replies_total", channel="telegram") >= before["replies"] + 2
    assert sample("healthbot_turn_seconds_count") == before["turns"] + 2
    assert sample("healthbot_crisis_events_total", category="suicide") == before["suicide"] + 1

    errors = all_errors()
    await engine_without_database.handle(factories.command("menu"))
    assert all_errors() == errors + 1


async def test_nlu_parses_are_counted_by_backend(parser: EmbeddedParser) -> None:
    metrics.watch_parser(parser)
    before = sample("healthbot_nlu_parses_total", backend="embedded")
    await parser.parse("how do i use a condom")
    assert sample("healthbot_nlu_parses_total", backend="embedded") == before + 1

    fallback = FallbackParser(RasaParser("http://127.0.0.1:9"), parser)
    try:
        metrics.watch_parser(fallback)
        await fallback.parse("how do i use a condom")
        assert sample("healthbot_nlu_parses_total", backend="embedded_fallback") == 1
        assert sample("healthbot_nlu_parses_total", backend="rasa") == 0
    finally:
        await fallback.close()
        metrics.watch_parser(parser)


async def test_the_queue_gauges_come_from_the_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await metrics.refresh_queue(sessions)
    assert sample("healthbot_queue_cases", priority="urgent") == 0
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add(UserDB(id="u1", channel="telegram", state="idle", state_data={}))
        await session.flush()
        for priority, status in (
            ("urgent", "waiting"),
            ("urgent", "waiting"),
            ("normal", "active"),
        ):
            session.add(
                CaseDB(
                    user_id="u1",
                    channel="telegram",
                    language="en",
                    source="request",
                    priority=priority,
                    status=status,
                    opened_at=now.replace(microsecond=0) - metrics_wait(),
                )
            )
    await metrics.refresh_queue(sessions)
    assert sample("healthbot_queue_cases", priority="urgent") == 2
    assert sample("healthbot_queue_cases", priority="normal") == 0  # active, not waiting
    assert sample("healthbot_queue_oldest_wait_seconds", priority="urgent") >= 120
    assert sample("healthbot_queue_oldest_wait_seconds", priority="normal") == 0


def metrics_wait() -> timedelta:
    return timedelta(minutes=2)
