"""Counsellors take cases from the queue and talk with young people through the bot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.repository import add_counsellor, set_duty
from bot.content.store import ContentStore
from bot.db.models import CaseDB, CaseMessageDB, utcnow
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind, Reply
from nlu.embedded import EmbeddedParser
from tests.conftest import make_engine
from tests.factories import USER, payloads, plain

YOUNG = "telegram:555000111"
STAFF = "telegram:900001"
OTHER_STAFF = "telegram:900002"


def young(text: str = "", *, command: str = "", payload: str = "") -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.BUTTON if payload else InboundKind.TEXT
    return Inbound(
        USER, "telegram", kind, text=text, command=command, payload=payload, address=YOUNG
    )


def staff(text: str = "", *, command: str = "", address: str = STAFF) -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.TEXT
    return Inbound("c" * 64, "telegram", kind, text=text, command=command, address=address)


def to(replies: list[Reply], address: str) -> list[Reply]:
    return [r for r in replies if r.to == address]


def here(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if not r.to]


async def register(
    sessions: async_sessionmaker[AsyncSession], telegram_id: int, *, on_duty: bool = True
) -> None:
    async with sessions() as session, session.begin():
        counsellor = await add_counsellor(session=session, telegram_id=telegram_id, name="Asha")
        await set_duty(session=session, counsellor_id=counsellor.id, on_duty=on_duty)


async def cases(sessions: async_sessionmaker[AsyncSession]) -> list[CaseDB]:
    async with sessions() as session:
        return list(await session.scalars(select(CaseDB).order_by(CaseDB.id)))


@pytest.fixture
async def ready(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> DialogueEngine:
    await register(sessions, 900001)
    await engine.handle(young(command="start"))
    await engine.handle(young(payload="lang:en"))
    return engine


async def test_a_request_queues_the_young_person_and_alerts_the_counsellor_on_duty(
    ready: DialogueEngine,
) -> None:
    replies = await ready.handle(young(payload="ask:talk_to_counsellor"))
    [line] = here(replies)
    assert "number 1 in the queue" in plain(line) and "08:00-20:00" in plain(line)
    [alert] = to(replies, STAFF)
    assert "Case 1" in plain(alert) and "/take 1" in plain(alert)
    assert "555000111" not in alert.text and USER not in alert.text


async def test_the_whole_conversation_through_the_bot(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ready.handle(young("I want to talk to a counsellor"))
    claimed = await ready.handle(staff(command="next"))
    assert "You have case 1" in plain(here(claimed)[0])
    [joined] = to(claimed, YOUNG)
    assert "A counsellor has joined" in plain(joined)

    relayed = await ready.handle(young("school has been hard <b>lately</b> since mum left"))
    [forwarded] = relayed
    assert (
        forwarded.to == STAFF
        and "Case 1: school has been hard <b>lately</b> since mum left" in plain(forwarded)
    )
    assert "&lt;b&gt;" in forwarded.text  # escaped, never markup

    answer = await ready.handle(staff("I'm here for you. Tell me more?"))
    [to_young] = answer
    assert to_young.to == YOUNG and "Counsellor" in plain(to_young)
    assert "Asha" not in to_young.text

    noted = await ready.handle(staff("follow up on school fees", command="note"))
    assert "Note added to case 1" in plain(noted[0])

    closed = await ready.handle(staff("referred to school counsellor", command="close"))
    [rate] = to(closed, YOUNG)
    assert [p for p in payloads(rate)] == [f"rate:1:{n}" for n in range(1, 6)]
    async with sessions() as session:
        assert not list(await session.scalars(select(CaseMessageDB)))  # transcript gone
    [thanks] = await ready.handle(young(payload="rate:1:5"))
    assert "Thank you" in plain(thanks)
    [case] = await cases(sessions)
    assert case.status == "closed" and case.rating == 5 and case.route is None
    assert case.first_reply_at is not None and case.closed_at is not None
    # the next message gets an automated answer again
    [back] = await ready.handle(young("how do i get tested for hiv"))
    assert "Getting tested for HIV" in plain(back)


async def test_a_crisis_during_an_active_case_is_flagged_to_the_counsellor_without_interrupting(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ready.handle(young(payload="ask:talk_to_counsellor"))
    await ready.handle(staff(command="next"))
    replies = await ready.handle(young("nataka kujiua leo"))
    assert here(replies) == []  # no automated block in the middle of the chat
    [flagged] = to(replies, STAFF)
    assert "CRISIS (suicide)" in plain(flagged) and "nataka kujiua leo" in plain(flagged)
    [case] = await cases(sessions)
    assert case.priority == "urgent" and case.status == "active"


async def test_a_crisis_opens_an_urgent_case_and_alerts_every_counsellor_on_duty(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions, 900002)
    replies = await ready.handle(young("I was raped yesterday"))
    assert "1195" in here(replies)[0].text
    for address in (STAFF, OTHER_STAFF):
        [alert] = to(replies, address)
        assert "URGENT" in plain(alert) and "sexual_violence" in plain(alert)


async def test_two_counsellors_never_get_the_same_case(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions, 900002)
    await ready.handle(young(payload="ask:talk_to_counsellor"))
    first = await ready.handle(staff(command="next"))
    second = await ready.handle(staff(command="next", address=OTHER_STAFF))
    assert "You have case 1" in plain(first[0])
    assert "No waiting case" in plain(second[0])


async def test_the_queue_is_ordered_by_urgency_then_waiting_time(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other = Inbound(
        "d" * 64,
        "telegram",
        InboundKind.BUTTON,
        payload="ask:talk_to_counsellor",
        address="telegram:42",
    )
    await ready.handle(other)
    await ready.handle(young("nataka kujiua"))
    [queue] = await ready.handle(staff(command="queue"))
    lines = plain(queue)
    assert lines.index("Case 2 · urgent") < lines.index("Case 1 · normal")


async def test_unregistered_people_learn_nothing_from_counsellor_commands(
    ready: DialogueEngine,
) -> None:
    await ready.handle(young("I want to talk to a counsellor"))
    for command in ("queue", "next", "take", "duty", "close", "note", "transfer"):
        [reply] = await ready.handle(young("1", command=command))
        assert plain(reply) == "That command isn't available."


async def test_nobody_on_duty_is_said_honestly_with_the_helpline(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions, 900001, on_duty=False)
    await engine.handle(young(command="start"))
    await engine.handle(young(payload="lang:sw"))
    replies = await engine.handle(young(payload="ask:talk_to_counsellor"))
    assert "hakuna aliyepo sasa hivi" in plain(here(replies)[0])
    assert "1190" in plain(here(replies)[0])
    assert not to(replies, STAFF)


async def test_an_unclaimed_case_alerts_again_and_updates_the_young_person(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ready.handle(young(payload="ask:talk_to_counsellor"))
    assert await ready.due_alerts() == []  # just alerted
    async with sessions() as session, session.begin():
        await session.execute(update(CaseDB).values(alerted_at=utcnow() - timedelta(minutes=10)))
    replies = await ready.due_alerts()
    assert "Case 1" in plain(to(replies, STAFF)[0])
    assert "Still waiting" in plain(to(replies, YOUNG)[0])


async def test_transfer_puts_the_case_back_and_tells_the_young_person(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ready.handle(young(payload="ask:talk_to_counsellor"))
    await ready.handle(staff(command="next"))
    replies = await ready.handle(staff(command="transfer"))
    assert "back in the queue" in plain(here(replies)[0])
    assert "another counsellor" in plain(to(replies, YOUNG)[0])
    [case] = await cases(sessions)
    assert case.status == "waiting" and case.counsellor_id is None


async def test_a_restart_loses_no_case_claim_or_relay(
    ready: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
    parser: EmbeddedParser,
    content: ContentStore,
) -> None:
    await ready.handle(young(payload="ask:talk_to_counsellor"))
    await ready.handle(staff(command="next"))
    restarted = make_engine(sessions, parser, content)  # a new process: nothing in memory
    [forwarded] = await restarted.handle(young("are you still there?"))
    assert forwarded.to == STAFF and "Case 1: are you still there?" in plain(forwarded)
    [answer] = await restarted.handle(staff("yes, I'm here"))
    assert answer.to == YOUNG


async def test_outside_counsellors_hours_is_said_honestly(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    from datetime import UTC, datetime

    from bot.content.render import Renderer
    from bot.dialogue.counsellor import Desk
    from tests.conftest import DESK_SETTINGS

    engine = make_engine(sessions, parser, content)
    night = Desk(
        DESK_SETTINGS, Renderer(content), clock=lambda: datetime(2026, 11, 30, 20, 30, tzinfo=UTC)
    )
    engine._desk = night  # 23:30 in Nairobi
    await register(sessions, 900001)
    replies = await engine.handle(young(payload="ask:talk_to_counsellor"))
    assert "none is available right now" in plain(here(replies)[0]) and "1190" in plain(
        here(replies)[0]
    )


async def test_repeated_unsure_answers_offer_a_counsellor(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> None:
    from tests.factories import ScriptedParser, result

    engine = make_engine(sessions, ScriptedParser(result("hiv_basics", 0.2)), content)
    [first] = await engine.handle(young("blah blah"))
    assert "ask:talk_to_counsellor" not in payloads(first)
    [second] = await engine.handle(young("blah blah again"))
    assert "ask:talk_to_counsellor" in payloads(second)


async def test_exit_during_a_live_chat_keeps_the_relay(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """/exit clears the screen; the counsellor is told; what they write next still reaches them.

    Issue 17: /exit reset the state while the case stayed active, so the young person's next
    messages got the bot's answers and never reached the counsellor, whose words still arrived.
    """
    await ready.handle(young("I want to talk to a counsellor"))
    await ready.handle(staff(command="next"))
    left = await ready.handle(young(command="exit"))
    assert here(left)[0].ends_session
    assert "quick exit" in plain(to(left, STAFF)[0])

    relayed = await ready.handle(young("sorry, my sister came in. i'm back"))
    [forwarded] = relayed
    assert forwarded.to == STAFF and "i'm back" in plain(forwarded)
    [case] = await cases(sessions)
    assert case.status == "active" and case.left_how == "quick_exit"


async def test_a_counsellor_message_carries_its_receipt(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The relayed reply names the transcript row, so its delivery can be recorded."""
    await ready.handle(young("I want to talk to a counsellor"))
    await ready.handle(staff(command="next"))
    [to_young] = await ready.handle(staff("I'm here."))
    async with sessions() as session:
        [row] = list(await session.scalars(select(CaseMessageDB)))
    assert to_young.receipt == row.id and row.sender == "counsellor" and row.delivered_at is None


async def test_a_lone_surrogate_or_nul_relayed_to_a_counsellor_is_cleaned_not_lost(
    ready: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await ready.handle(young("I want to talk to a counsellor"))
    await ready.handle(staff(command="next"))
    relayed = await ready.handle(young("my name is Wanjiru\ud800 in Kisumu\x00"))
    [forwarded] = relayed
    assert forwarded.to == STAFF and "Wanjiru\ufffd in Kisumu" in plain(forwarded)
    assert "\x00" not in forwarded.text and "\ud800" not in forwarded.text
    async with sessions() as session:
        [held] = list(await session.scalars(select(CaseMessageDB.text)))
    assert held == "my name is Wanjiru\ufffd in Kisumu\ufffd"
