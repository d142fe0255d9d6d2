"""Published revisions reach the bot without a restart, in every process, and are recorded."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import paths
from bot.content import revisions
from bot.content.store import ContentStore
from bot.content.sync import import_files
from bot.db.models import MessageDB, ReferralSearchDB, UnansweredDB, nairobi_today
from bot.dialogue import payloads
from bot.dialogue.engine import DialogueEngine
from bot.runtime import ExampleTrainer
from nlu.embedded import EmbeddedModel, EmbeddedParser
from tests.conftest import make_engine
from tests.factories import OTHER_USER, button, location, text

NEW_ANSWER = "PrEP is a daily pill that keeps HIV away. Ask for it at any youth-friendly clinic."


async def publish_new_prep_answer(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session, session.begin():
        body = dict((await revisions.published(session))["hiv_prep"].body)
        body["answer"] = {**body["answer"], "en": NEW_ANSWER}
        draft = await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=body, author="amina"
        )
        await revisions.submit(session, item="hiv_prep", number=draft.number, actor="amina")
        await revisions.approve(
            session, item="hiv_prep", number=draft.number, reviewer="rev", today=date(2026, 12, 1)
        )
        return draft.number


async def ask_prep(engine: DialogueEngine, user: str) -> str:
    replies = await engine.handle(button(payloads.encode("ask", "hiv_prep"), user))
    return replies[0].text


async def answers(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, int | None]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(MessageDB).where(MessageDB.kind == "answer").order_by(MessageDB.id)
        )
        return [(r.content_id or "", r.content_revision) for r in rows]


async def test_two_processes_serve_a_published_answer_without_restarting(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    await import_files(sessions, paths.CONTENT_DIR, paths.NLU_DATA_DIR)
    first = make_engine(sessions, parser, content, live=True)
    second = make_engine(sessions, parser, content, live=True)  # another process, same database
    assert NEW_ANSWER not in await ask_prep(first, "a" * 64)
    assert NEW_ANSWER not in await ask_prep(second, OTHER_USER)

    number = await publish_new_prep_answer(sessions)

    assert NEW_ANSWER in await ask_prep(first, "a" * 64)
    assert NEW_ANSWER in await ask_prep(second, OTHER_USER)
    assert await answers(sessions) == [
        ("hiv_prep", 1),
        ("hiv_prep", 1),
        ("hiv_prep", number),
        ("hiv_prep", number),
    ]


async def test_reload_waits_for_the_interval_then_sees_the_change(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    await import_files(sessions, paths.CONTENT_DIR, paths.NLU_DATA_DIR)
    engine = make_engine(sessions, parser, content, live=True)
    live = engine._live
    assert live is not None
    now = [100.0]
    live._clock = lambda: now[0]
    live._interval = 2.0
    await ask_prep(engine, "a" * 64)
    await publish_new_prep_answer(sessions)
    now[0] += 1.0  # within the interval: not checked yet
    assert NEW_ANSWER not in await ask_prep(engine, "a" * 64)
    now[0] += 1.5  # the interval has passed: one query sees the new version
    assert NEW_ANSWER in await ask_prep(engine, "a" * 64)


async def test_a_free_text_question_records_the_revision_it_was_answered_with(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    await import_files(sessions, paths.CONTENT_DIR, paths.NLU_DATA_DIR)
    engine = make_engine(sessions, parser, content, live=True)
    number = await publish_new_prep_answer(sessions)
    replies = await engine.handle(text("what is prep and is it for me"))
    assert NEW_ANSWER in replies[0].text
    async with sessions() as session:
        rows = list(await session.scalars(select(MessageDB).where(MessageDB.direction == "out")))
    assert [(r.kind, r.content_id, r.content_revision) for r in rows] == [
        ("answer", "hiv_prep", number)
    ]


async def test_a_referral_is_counted_by_service_and_county_only(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    engine = make_engine(sessions, parser, content)
    await engine.handle(button(payloads.encode("svc", "hiv_testing")))
    replies = await engine.handle(location(-0.0917, 34.7680))  # Kisumu town
    assert "km" in replies[0].text  # facilities listed with their distance
    await engine.write_unlinked()  # written apart from the turn (test_unlinked.py)
    async with sessions() as session:
        messages = list(
            await session.scalars(select(MessageDB).where(MessageDB.kind == "referral"))
        )
        counted = list(await session.scalars(select(ReferralSearchDB)))
    assert [m.intent for m in messages] == ["hiv_testing"]  # the user's turn: no place at all
    assert [(c.service, c.county, c.day) for c in counted] == [
        ("hiv_testing", "Kisumu", nairobi_today())  # counted by county, linked to nobody
    ]
    assert len(counted[0].id) == 32 and not counted[0].id.isdigit()  # a random key


async def test_questions_nothing_answered_are_kept_scrubbed_and_unlinked(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    engine = make_engine(sessions, parser, content)
    await engine.handle(text("what is the capital of peru? call me 0722 123 456 or @kevo_ke"))
    await engine.handle(text("I want to kill myself"))  # a crisis is never kept here
    await engine.write_unlinked()
    async with sessions() as session:
        rows = list(await session.scalars(select(UnansweredDB)))
    assert len(rows) == 1
    kept = rows[0].text
    assert "0722" not in kept and "123" not in kept and "kevo" not in kept
    assert "[number]" in kept and "[handle]" in kept and "peru" in kept
    assert not hasattr(rows[0], "user_id") and not hasattr(rows[0], "created_at")
    assert rows[0].day == nairobi_today()


async def test_conversational_replies_record_their_content_and_revision(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    await import_files(sessions, paths.CONTENT_DIR, paths.NLU_DATA_DIR)
    engine = make_engine(sessions, parser, content, live=True)
    for message in ("hello", "thank you so much", "who won the football match yesterday"):
        await engine.handle(text(message))
    await engine.handle(button(payloads.encode("more", "hiv_prep")))
    async with sessions() as session:
        rows = list(await session.scalars(select(MessageDB).where(MessageDB.direction == "out")))
    assert [(r.kind, r.content_id, r.content_revision) for r in rows] == [
        ("reply", "greet", 1),
        ("reply", "thanks", 1),
        ("reply", "out_of_scope", 1),
        ("more", "hiv_prep", 1),
    ]


async def test_published_training_examples_retrain_in_the_background(
    sessions: async_sessionmaker[AsyncSession], model: EmbeddedModel, content: ContentStore
) -> None:
    """The answer to the turn that notices a publish does not wait for the retraining."""
    await import_files(sessions, paths.CONTENT_DIR, paths.NLU_DATA_DIR)
    parser = EmbeddedParser(model)  # this test's own: retraining changes it
    engine = make_engine(sessions, parser, content, live=True)
    live = engine._live
    assert live is not None
    live._on_examples = ExampleTrainer(parser)
    await live.refresh(force=True)
    assert live.retraining is not None
    await live.retraining  # the files' own examples: nothing to retrain
    assert parser._model is model

    novel = "zebra umbrella toaster"
    async with sessions() as session, session.begin():
        body = dict((await revisions.published(session))["hiv_prep"].body)
        body["examples"] = [*body["examples"], novel, *(f"{novel} {n}" for n in range(8))]
        draft = await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=body, author="amina"
        )
        await revisions.submit(session, item="hiv_prep", number=draft.number, actor="amina")
        await revisions.approve(
            session, item="hiv_prep", number=draft.number, reviewer="rev", today=date(2026, 12, 1)
        )
    await engine.handle(text("hello"))  # notices the publish, answers with the old model
    assert live.retraining is not None and not live.retraining.done()
    await live.retraining
    assert parser._model is not model
    assert (await parser.parse(novel)).intent.name == "hiv_prep"
