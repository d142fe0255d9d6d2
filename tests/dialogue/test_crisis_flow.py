"""After a crisis the conversation stays with the person and tells the truth about people (#16).

Every example of the issue, through the engine: a check-in for a possible crisis, short replies in
context after the safety answer, "I'm safe now", honest availability, self or friend from who is
speaking, and a live chat that is never interrupted.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.repository import add_counsellor, set_duty
from bot.content.store import ContentStore
from bot.db.models import CaseDB, UserDB
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind, Reply
from nlu.embedded import EmbeddedParser
from tests.conftest import make_engine
from tests.factories import USER, payloads, plain

ADDRESS = "telegram:555000222"
STAFF = "telegram:900001"
EVENING_IN_NAIROBI = datetime(2026, 11, 30, 18, 30, tzinfo=UTC)  # 21:30 in Nairobi


def say(text: str = "", *, payload: str = "", command: str = "", user: str = USER) -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.BUTTON if payload else InboundKind.TEXT
    return Inbound(
        user, "telegram", kind, text=text, payload=payload, command=command, address=ADDRESS
    )


def mine(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if not r.to]


async def only(engine: DialogueEngine, message: Inbound) -> Reply:
    [reply] = mine(await engine.handle(message))
    return reply


async def cases(sessions: async_sessionmaker[AsyncSession]) -> list[CaseDB]:
    async with sessions() as session:
        return list(await session.scalars(select(CaseDB).order_by(CaseDB.id)))


async def user_row(sessions: async_sessionmaker[AsyncSession]) -> UserDB:
    async with sessions() as session:
        user = await session.get(UserDB, USER)
        assert user is not None
        return user


async def on_duty(sessions: async_sessionmaker[AsyncSession], telegram_id: int = 900001) -> None:
    async with sessions() as session, session.begin():
        counsellor = await add_counsellor(session=session, telegram_id=telegram_id, name="Asha")
        await set_duty(session=session, counsellor_id=counsellor.id, on_duty=True)


async def started(engine: DialogueEngine) -> DialogueEngine:
    await engine.handle(say(command="start"))
    await engine.handle(say(payload="lang:en"))
    return engine


@pytest.fixture
async def chat(engine: DialogueEngine) -> DialogueEngine:
    return await started(engine)


# honest availability ------------------------------------------------------------------------


async def test_with_nobody_on_duty_the_answer_says_so_and_leads_with_the_24_hour_lines(
    chat: DialogueEngine,
) -> None:
    reply = await only(chat, say("I want to kill myself"))
    text = plain(reply)
    assert text.startswith("📞") and "1199" in text.split("\n")[0] and "116" in text.split("\n")[0]
    assert "No counsellor is online right now" in text
    assert "has been alerted" not in text and "will reply to you here as soon" not in text
    assert [c.number for c in reply.calls] == ["1199", "1190", "999"]


async def test_out_of_hours_the_answer_says_nobody_is_online(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    await on_duty(sessions)
    engine = await started(make_engine(sessions, parser, content, now=EVENING_IN_NAIROBI))
    text = plain(await only(engine, say("nilibakwa jana usiku")))
    assert "Hakuna mshauri aliye mtandaoni" in text or "No counsellor is online" in text
    assert "amearifiwa" not in text and "has been alerted" not in text


async def test_with_a_counsellor_on_duty_in_hours_the_answer_promises_one(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await on_duty(sessions)
    replies = await chat.handle(say("I want to kill myself"))
    [reply] = mine(replies)
    text = plain(reply)
    assert "A counsellor has been alerted" in text and "number 1 in the queue" in text
    assert not text.startswith("📞")
    assert [r for r in replies if r.to == STAFF], "the counsellor on duty is alerted"


# a check-in for a possible crisis -------------------------------------------------------------


async def test_a_joke_marker_gets_a_check_in_and_no_case_in_the_queue(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reply = await only(chat, say("i just want to die lol"))
    assert "are you thinking of ending your life" in plain(reply).lower()
    assert payloads(reply) == ["chk:yes:suicide", "chk:no:suicide"]
    assert [c.number for c in reply.calls] == ["1199"]
    [case] = await cases(sessions)
    assert case.status == "check_in" and case.route is not None


async def test_yes_to_a_check_in_gets_the_safety_answer_and_an_urgent_case(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await chat.handle(say("sitaki kuishi haha"))
    reply = await only(chat, say("yes"))
    assert "1199" in reply.text and "Stay with someone you trust" in plain(reply)
    [case] = await cases(sessions)
    assert (case.status, case.priority, case.category) == ("waiting", "urgent", "suicide")


async def test_the_yes_button_of_a_check_in_works_even_later(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await chat.handle(say("i just want to die lol"))
    await chat.handle(say(command="menu"))
    reply = await only(chat, say(payload="chk:yes:suicide"))
    assert "Stay with someone you trust" in plain(reply)
    assert [(c.status, c.priority) for c in await cases(sessions)] == [("waiting", "urgent")]


async def test_no_to_a_check_in_leaves_no_case_and_answers_what_they_asked(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await only(chat, say("i used to cut in form 2, will the scars on my arm fade"))
    assert "chk:no:self_harm" in payloads(first)
    replies = mine(await chat.handle(say(payload="chk:no:self_harm")))
    assert "I'm glad" in plain(replies[0])
    assert len(replies) == 2 and "fb:" in " ".join(payloads(replies[1]))
    assert await cases(sessions) == []


async def test_moving_on_from_a_check_in_asks_a_counsellor_to_check_in(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await chat.handle(say("i just want to die lol"))
    replies = mine(await chat.handle(say("is prep free?")))
    assert "I asked because I was worried about you" in plain(replies[0])
    assert "PrEP" in plain(replies[-1])
    [case] = await cases(sessions)
    assert (case.status, case.priority) == ("waiting", "normal")


async def test_silence_after_a_check_in_queues_it_for_a_counsellor(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await chat.handle(say("i just want to die lol"))
    await chat.due_alerts()
    assert [c.status for c in await cases(sessions)] == ["check_in"]
    async with sessions() as session, session.begin():
        await session.execute(
            update(CaseDB).values(opened_at=datetime.now(UTC) - timedelta(minutes=31))
        )
    await chat.due_alerts()
    [case] = await cases(sessions)
    assert (case.status, case.priority) == ("waiting", "normal")


# the crisis conversation ----------------------------------------------------------------------


async def test_is_anyone_there_gets_the_truth_about_the_queue_not_a_welcome(
    chat: DialogueEngine,
) -> None:
    await chat.handle(say("I want to kill myself"))
    reply = await only(chat, say("hello?? is anyone there"))
    text = plain(reply)
    assert "automatic helper" in text and "no counsellor is online right now" in text
    assert "Welcome" not in text and "menu" not in text.lower().split("\n")[0]
    assert [c.number for c in reply.calls] == ["1199", "1195", "116"]


async def test_is_anyone_there_with_a_counsellor_on_duty_gives_the_place_in_the_queue(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await on_duty(sessions)
    await chat.handle(say("I want to kill myself"))
    text = plain(await only(chat, say("is anyone there")))
    assert "number 1 in the queue" in text


async def test_cant_call_gets_keep_writing_here_not_did_you_mean(chat: DialogueEngine) -> None:
    await chat.handle(say("he is beating my mum and he will come for me next"))
    reply = await only(chat, say("i cant call police he will hear me"))
    text = plain(reply)
    assert "keep writing" in text and "Did you mean" not in text
    assert not any(p.startswith("ask:") for p in payloads(reply))


async def test_a_friend_who_does_not_pick_up_gets_what_to_do(chat: DialogueEngine) -> None:
    first = await only(chat, say("my friend says she wants to kill herself"))
    assert "looking out for your friend" in plain(first)
    reply = await only(chat, say("she isnt picking my calls"))
    assert "ask someone near them" in plain(reply)
    assert "svc:" not in " ".join(payloads(reply))


async def test_it_happened_again_stays_in_the_crisis_not_a_topic_answer(
    chat: DialogueEngine,
) -> None:
    await chat.handle(say("my uncle raped me"))
    reply = await only(chat, say("it happened again last night"))
    text = plain(reply)
    assert "not your fault" in text and "72 hours" in text
    assert "fb:" not in " ".join(payloads(reply))


async def test_the_same_block_is_never_sent_twice(chat: DialogueEngine) -> None:
    texts = [plain(await only(chat, say("I want to kill myself"))) for _ in range(4)]
    assert "Stay with someone you trust" in texts[0]
    assert all("Stay with someone you trust" not in t for t in texts[1:])
    assert all(a != b for a, b in itertools.pairwise(texts))


async def test_a_new_kind_of_crisis_in_the_conversation_gets_its_own_answer(
    chat: DialogueEngine,
) -> None:
    await chat.handle(say("I want to kill myself"))
    text = plain(await only(chat, say("i took 20 panadol an hour ago")))
    assert "even if you feel fine" in text and "packet" in text


async def test_im_safe_now_closes_it_kindly_and_the_next_question_gets_an_answer(
    chat: DialogueEngine,
) -> None:
    await chat.handle(say("I want to kill myself"))
    safe = await only(chat, say("I'm safe now"))
    assert "glad you're safe" in plain(safe)
    answer = await only(chat, say("is prep free?"))
    assert "PrEP" in plain(answer) and "fb:" in " ".join(payloads(answer))


async def test_the_safe_button_closes_it_too(chat: DialogueEngine) -> None:
    first = await only(chat, say("I want to kill myself"))
    assert "safe" in payloads(first)
    assert "glad you're safe" in plain(await only(chat, say(payload="safe")))


async def test_after_a_quiet_time_the_conversation_starts_afresh(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await chat.handle(say("I want to kill myself"))
    long_ago = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    async with sessions() as session, session.begin():
        user = await session.get(UserDB, USER)
        assert user is not None
        user.state_data = {**user.state_data, "at": long_ago}
    answer = await only(chat, say("is prep free?"))
    assert "PrEP" in plain(answer)


# a live chat is never interrupted ----------------------------------------------------------


async def test_a_crisis_in_a_live_chat_is_flagged_to_the_counsellor_only(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await on_duty(sessions)
    await chat.handle(say(payload="ask:talk_to_counsellor"))
    await chat.handle(
        Inbound("c" * 64, "telegram", InboundKind.COMMAND, command="next", address=STAFF)
    )
    replies = await chat.handle(say("nataka kujiua leo"))
    assert mine(replies) == []
    [flag] = [r for r in replies if r.to == STAFF]
    assert "CRISIS (suicide)" in plain(flag)


# self or friend, new categories -------------------------------------------------------------------


async def test_a_long_first_person_message_is_answered_to_the_writer(chat: DialogueEngine) -> None:
    message = (
        "Hello. My friend Amina told me to write here. "
        + "I go to school and come home and nobody in my house talks to me. " * 55
        + "I don't want to live anymore."
    )
    assert len(message) > 3500
    text = plain(mine(await chat.handle(say(message)))[0])
    assert "looking out for your friend" not in text
    assert "You matter" in text


@pytest.mark.parametrize(
    ("message", "facts"),
    [
        ("I took 20 panadol an hour ago", ["even if you feel fine", "packet", "999"]),
        ("I drank jik with strong tea to remove the pregnancy", ["jik", "confidential", "1190"]),
        (
            "a 40 year old man pays my school fees and wants sex",
            ["not your fault", "crime", "116", "1195"],
        ),
        ("he will post my nudes if I don't pay", ["don't pay", "screenshots", "116"]),
    ],
)
async def test_new_kinds_of_harm_get_their_own_answer(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession], message: str, facts: list[str]
) -> None:
    text = plain(await only(chat, say(message)))
    for fact in facts:
        assert fact in text, fact
    [case] = await cases(sessions)
    assert case.priority == "urgent"


@pytest.mark.parametrize("message", ["nataka kuweka kitanzi", "je kitanzi ni salama kwa msichana"])
async def test_the_coil_is_not_a_crisis(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession], message: str
) -> None:
    reply = await only(chat, say(message))
    assert "1199" not in reply.text and "chk:" not in " ".join(payloads(reply))
    assert await cases(sessions) == []


async def test_a_quick_exit_marks_the_open_case_for_the_counsellor(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await chat.handle(say("I want to kill myself"))
    await chat.handle(say("toka"))
    [case] = await cases(sessions)
    assert case.left_how == "quick_exit" and case.status == "waiting"
    assert (await user_row(sessions)).state == "idle"


async def test_several_crisis_messages_alert_the_counsellors_once(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await on_duty(sessions)
    alerts = []
    for message in ("I want to kill myself", "please", "I want to kill myself"):
        alerts += [r for r in await chat.handle(say(message)) if r.to == STAFF]
    assert len(alerts) == 1 and "URGENT" in plain(alerts[0])


async def test_a_crisis_after_a_command_is_answered_as_a_crisis(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reply = await only(chat, say("i want to kill myself", command="menu"))
    assert "Stay with someone you trust" in plain(reply)
    [case] = await cases(sessions)
    assert case.priority == "urgent"


async def test_a_counsellor_registered_but_off_duty_is_not_promised(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await add_counsellor(session=session, telegram_id=900001, name="Asha")
    text = plain(await only(chat, say("I want to kill myself")))
    assert "No counsellor is online right now" in text and "has been alerted" not in text


@pytest.mark.parametrize(
    ("answer", "read_as"),
    [
        ("no", "no"),
        ("No, I'm fine", "no"),
        ("I am fine thanks", "no"),
        ("hapana niko sawa", "no"),
        ("yes", "yes"),
        ("ndiyo", "yes"),
        ("no one cares about me", None),
        ("im not safe", "yes"),
        ("i dont know if im safe", "yes"),
    ],
)
def test_a_check_in_answer_is_read_for_what_it_says(
    engine: DialogueEngine, answer: str, read_as: str | None
) -> None:
    assert engine.safety.understand(answer, checking=True) == read_as


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("thanks again", "thanks"),
        ("thanks for the help", "thanks"),
        ("help", "help"),
        ("the counsellor is not answering", "anyone_there"),
        ("she isnt picking my calls", "unreachable"),
        ("he did it again last night", "again"),
        ("he left but he'll be back", "not_safe"),
    ],
)
def test_a_message_in_a_crisis_conversation_is_read_in_context(
    engine: DialogueEngine, message: str, key: str
) -> None:
    assert engine.safety.understand(message) == key


async def test_the_conversation_stays_in_context_after_a_case_is_raised(
    chat: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await chat.handle(say("my uncle raped me"))
    await chat.handle(say("it happened again last night"))
    await chat.handle(say("im not safe"))
    assert (await user_row(sessions)).state == "crisis"
    assert "glad you're safe" in plain(await only(chat, say("I am safe now")))


async def test_no_to_a_check_in_does_not_send_the_crisis_topic_as_what_they_asked(
    chat: DialogueEngine,
) -> None:
    await chat.handle(say("i just want to die lol"))
    replies = mine(await chat.handle(say("no")))
    assert len(replies) == 1 and "I'm glad" in plain(replies[0])


async def test_a_possible_crisis_of_a_new_kind_in_the_conversation_gets_its_check_in(
    chat: DialogueEngine,
) -> None:
    await chat.handle(say("my friend says she wants to kill herself"))
    reply = await only(chat, say("how do i abort"))
    assert payloads(reply) == ["chk:yes:unsafe_abortion", "chk:no:unsafe_abortion"]
    answer = await only(chat, say("yes"))
    assert "jik" in plain(answer) and "confidential" in plain(answer)


async def test_a_check_in_without_a_parser_logs_no_words(
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Quoting:
        async def parse(self, value: str) -> object:
            raise RuntimeError(f"cannot parse {value!r}")

    engine = await started(make_engine(sessions, Quoting(), content))  # type: ignore[arg-type]
    reply = await only(engine, say("i just want to die lol, my name is Achieng"))
    assert "chk:yes:suicide" in payloads(reply)
    assert "Achieng" not in caplog.text and "RuntimeError" in caplog.text
