"""/mydata shows what is kept about a young person; /delete erases it, after asking, only theirs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.repository import add_counsellor, set_duty
from bot.content.store import ContentStore
from bot.db.migrate import upgrade
from bot.db.models import (
    CaseDB,
    CaseMessageDB,
    CaseNoteDB,
    ChannelMessageDB,
    FeedbackDB,
    MessageDB,
    UserDB,
    WebOutboxDB,
)
from bot.db.session import create_engine, session_factory
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind, Reply
from bot.erasure import ERASED_RESOLUTION
from bot.web.outbox import outbox_key
from nlu.embedded import EmbeddedParser
from tests.conftest import SECRET, make_engine
from tests.factories import OTHER_USER, USER, labels, payloads, plain

YOUNG = "telegram:555000111"
OTHER_YOUNG = "telegram:555000222"
STAFF = "telegram:900001"
WEB = "web:chat-token-0123456789abcdef"
OTHER_WEB = "web:another-chat-token-987654"


def young(
    text: str = "",
    *,
    command: str = "",
    payload: str = "",
    user: str = USER,
    address: str = YOUNG,
) -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.BUTTON if payload else InboundKind.TEXT
    channel = address.partition(":")[0]
    return Inbound(
        user, channel, kind, text=text, command=command, payload=payload, address=address
    )


def staff(text: str = "", *, command: str = "") -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.TEXT
    return Inbound("c" * 64, "telegram", kind, text=text, command=command, address=STAFF)


def here(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if not r.to]


async def count(sessions: async_sessionmaker[AsyncSession], column: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count(column)).where(*where)) or 0)


async def held(sessions: async_sessionmaker[AsyncSession], user: str) -> dict[str, int]:
    """Every row tied to `user`, by table."""
    theirs = select(CaseDB.id).where(CaseDB.user_id == user).scalar_subquery()
    return {
        "users": await count(sessions, UserDB.id, UserDB.id == user),
        "messages": await count(sessions, MessageDB.id, MessageDB.user_id == user),
        "feedback": await count(sessions, FeedbackDB.id, FeedbackDB.user_id == user),
        "channel_messages": await count(
            sessions, ChannelMessageDB.id, ChannelMessageDB.user_id == user
        ),
        "cases": await count(sessions, CaseDB.id, CaseDB.user_id == user),
        "case_messages": await count(sessions, CaseMessageDB.id, CaseMessageDB.case_id.in_(theirs)),
    }


async def all_cases(sessions: async_sessionmaker[AsyncSession]) -> list[CaseDB]:
    async with sessions() as session:
        return list(await session.scalars(select(CaseDB).order_by(CaseDB.id)))


async def converse(
    engine: DialogueEngine, *, user: str = USER, address: str = YOUNG, language: str = "en"
) -> None:
    """/start, a language, a question answered and rated 👍, and the chat's message ids."""
    await engine.handle(young(command="start", user=user, address=address))
    await engine.handle(young(payload=f"lang:{language}", user=user, address=address))
    [answer] = await engine.handle(young(payload="ask:hiv_testing", user=user, address=address))
    [vote] = [p for p in payloads(answer) if p.startswith("fb:") and p.endswith(":1")]
    await engine.handle(young(payload=vote, user=user, address=address))
    await engine.remember_channel_messages(user, [101, 102, 103])


async def ask_delete(engine: DialogueEngine, **who: str) -> tuple[Reply, str, str]:
    """/delete: the warning and its two payloads (yes, no)."""
    [warning] = await engine.handle(young(command="delete", **who))
    yes, no = payloads(warning)
    return warning, yes, no


# /mydata ------------------------------------------------------------------------------------


async def test_mydata_shows_the_real_counts_after_a_conversation(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine)
    [reply] = await engine.handle(young(command="mydata"))
    text = plain(reply)
    incoming = await count(
        sessions, MessageDB.id, MessageDB.user_id == USER, MessageDB.direction == "in"
    )
    outgoing = await count(
        sessions, MessageDB.id, MessageDB.user_id == USER, MessageDB.direction == "out"
    )
    # /start, the language, the question's button, the vote and /mydata itself; one answer
    assert (incoming, outgoing) == (5, 1)
    assert f"Records of messages: {incoming} from you, {outgoing} from me" in text
    assert "Language: English" in text
    assert "Topics I answered: Getting tested for HIV" in text
    assert "👍/👎 on answers: 1" in text
    assert "Requests for a counsellor: 0 open, 0 closed" in text
    assert "for /exit: 3" in text
    assert "encrypted, so a counsellor can write to you: not kept" in text
    assert "older than 90 days are deleted" in text and "/delete" in text
    assert re.search(r"First message: \d{4}-\d{2}-\d{2}; last message: \d{4}-\d{2}-\d{2}", text)
    assert payloads(reply) == ["menu"]


async def test_mydata_before_choosing_a_language_says_so_and_lists_no_topics(
    engine: DialogueEngine,
) -> None:
    [reply] = await engine.handle(young(command="mydata"))
    text = plain(reply)
    assert "Language: not chosen yet" in text and "Topics I answered: none yet" in text
    assert "1 from you, 0 from me" in text


async def test_mydata_counts_a_counsellor_chat_and_its_transcript(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions)
    await converse(engine)
    await engine.handle(young(payload="ask:talk_to_counsellor"))
    await engine.handle(staff(command="next"))
    await engine.handle(young("things at home are hard"))
    await engine.handle(staff("I'm listening"))
    [reply] = await engine.handle(young(command="mydata"))
    text = plain(reply)
    assert "Requests for a counsellor: 1 open, 0 closed; 2 messages of the open chat" in text
    assert "write to you: kept" in text


async def test_kiswahili_user_gets_mydata_and_delete_in_kiswahili(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine, language="sw")
    [summary] = await engine.handle(young(command="mydata"))
    assert "Hiki ndicho ninachohifadhi kukuhusu" in plain(summary)
    assert "Lugha: Kiswahili" in plain(summary) and "Mada nilizojibu: Kupima HIV" in plain(summary)
    warning, yes, _ = await ask_delete(engine)
    assert "Ufute kila kitu" in plain(warning)
    assert labels(warning) == ["🗑 Ndiyo, futa kila kitu", "Hapana, usifute"]
    [done] = here(await engine.handle(young(payload=yes)))
    assert "Kila kitu nilichohifadhi kukuhusu kimefutwa" in plain(done) and "/start" in plain(done)
    assert (await held(sessions, USER))["users"] == 0


# /delete asks first ----------------------------------------------------------------------------


async def test_delete_asks_first_and_erases_nothing_until_yes(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine)
    before = await held(sessions, USER)
    warning, yes, no = await ask_delete(engine)
    text = plain(warning)
    assert "Delete everything I keep about you?" in text
    assert "notes a counsellor wrote" in text and "counts that never had your code" in text
    assert "Telegram keeps the chat on your phone" in text and "cannot be undone" in text
    assert labels(warning) == ["🗑 Yes, delete everything", "No, keep it"]
    assert re.fullmatch(r"erase:yes:[0-9a-f]{8}", yes) and no == "erase:no:" + yes[10:]
    after = await held(sessions, USER)
    assert after == {**before, "messages": before["messages"] + 1}  # the /delete command only


async def test_no_keeps_everything_and_shows_the_menu_button(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine)
    _, yes, no = await ask_delete(engine)
    before = await held(sessions, USER)
    [kept] = await engine.handle(young(payload=no))
    assert "nothing was deleted" in plain(kept) and payloads(kept) == ["menu"]
    after = await held(sessions, USER)
    assert after == {**before, "messages": before["messages"] + 1}
    [stale] = await engine.handle(young(payload=yes))  # the answer was no: that "yes" is spent
    assert "expired" in plain(stale)
    assert (await held(sessions, USER))["users"] == 1


async def test_no_during_a_counsellor_chat_keeps_the_chat_going(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions)
    await converse(engine)
    await engine.handle(young(payload="ask:talk_to_counsellor"))
    await engine.handle(staff(command="next"))
    _, _, no = await ask_delete(engine)
    await engine.handle(young(payload=no))
    [relayed] = await engine.handle(young("still there?"))
    assert relayed.to == STAFF and "still there?" in plain(relayed)


# /delete: yes ------------------------------------------------------------------------------


async def test_yes_erases_everything_of_theirs_and_nothing_of_anyone_else(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine, user=OTHER_USER, address=OTHER_YOUNG)
    others = await held(sessions, OTHER_USER)
    await converse(engine)
    _, yes, _ = await ask_delete(engine)
    [done] = here(await engine.handle(young(payload=yes)))
    assert "Everything I kept about you has been deleted" in plain(done)
    assert "/start" in plain(done) and done.buttons == ()
    assert done.delete_message_ids == (101, 102, 103)  # cleared from the chat, as /exit does
    assert await held(sessions, USER) == dict.fromkeys(others, 0)
    assert await held(sessions, OTHER_USER) == others
    # the next message starts afresh: a new row, the language asked again
    [again] = await engine.handle(young(command="start"))
    assert payloads(again) == ["lang:en", "lang:sw"]


async def test_yes_closes_and_unlinks_their_cases_keeping_the_counsellors_notes(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions)
    await converse(engine)
    # a first case, closed and never rated (its sealed address is still held)
    await engine.handle(young(payload="ask:talk_to_counsellor"))
    await engine.handle(staff(command="next"))
    await engine.handle(staff("note one", command="note"))
    await engine.handle(staff("helped", command="close"))
    # a second one, active, with a transcript and a note
    await engine.handle(young(payload="ask:talk_to_counsellor"))
    await engine.handle(staff(command="next"))
    await engine.handle(young("my parents fight every night"))
    await engine.handle(staff("That sounds hard."))
    await engine.handle(staff("note two", command="note"))
    first, second = await all_cases(sessions)
    assert first.route is not None and second.status == "active"
    assert await count(sessions, CaseMessageDB.id) == 2

    _, yes, _ = await ask_delete(engine)
    replies = await engine.handle(young(payload=yes))

    [told] = [r for r in replies if r.to == STAFF]
    assert f"Case {second.id}: the young person has left and deleted their data" in plain(told)
    assert not [r for r in replies if r.to == YOUNG]
    first, second = await all_cases(sessions)
    for case in (first, second):
        assert case.user_id is None and case.route is None and case.status == "closed"
    assert first.resolution == "helped"  # closed before: left as the counsellor wrote it
    assert second.resolution == ERASED_RESOLUTION and second.closed_at is not None
    assert await count(sessions, CaseMessageDB.id) == 0
    async with sessions() as session:
        notes = list(await session.scalars(select(CaseNoteDB.text).order_by(CaseNoteDB.id)))
    assert notes == ["note one", "note two"]
    # the counsellor is free again, and relays go nowhere
    [free] = await engine.handle(staff("are you there?"))
    assert "no active case" in plain(free)


async def test_a_waiting_request_is_closed_and_leaves_the_queue(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions)
    await converse(engine)
    await engine.handle(young(payload="ask:talk_to_counsellor"))
    _, yes, _ = await ask_delete(engine)
    replies = await engine.handle(young(payload=yes))
    assert [r.to for r in replies] == [""]  # nobody was talking with them: nobody to tell
    [case] = await all_cases(sessions)
    assert case.status == "closed" and case.user_id is None
    [queue] = await engine.handle(staff(command="queue"))
    assert "No one is waiting" in plain(queue)


async def test_a_pending_check_in_is_deleted_and_never_reaches_the_queue(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions)
    await converse(engine)
    await engine.handle(young("i just want to die lol"))
    assert [c.status for c in await all_cases(sessions)] == ["check_in"]
    _, yes, _ = await ask_delete(engine)
    await engine.handle(young(payload=yes))
    assert await all_cases(sessions) == []  # it held the sealed route and nothing else
    await engine.due_alerts()  # the timer that queues unanswered check-ins
    [queue] = await engine.handle(staff(command="queue"))
    assert "No one is waiting" in plain(queue)


@pytest.mark.parametrize(
    "forged",
    ["erase", "erase:yes", "erase:maybe", "erase:yes:00000000", "erase:maybe:{code}", "erase:no"],
)
async def test_forged_or_stale_erase_buttons_get_the_stale_answer_and_erase_nothing(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession], forged: str
) -> None:
    await converse(engine)
    _, yes, _ = await ask_delete(engine)
    before = await held(sessions, USER)
    [reply] = await engine.handle(young(payload=forged.format(code=yes.split(":")[2])))
    assert "That button has expired" in plain(reply)
    after = await held(sessions, USER)
    assert after == {**before, "messages": before["messages"] + 1}


async def test_another_persons_yes_button_erases_nothing(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine)
    await converse(engine, user=OTHER_USER, address=OTHER_YOUNG)
    _, yes, _ = await ask_delete(engine)  # USER asks; their button reaches OTHER_USER somehow
    mine, theirs = await held(sessions, USER), await held(sessions, OTHER_USER)
    [reply] = await engine.handle(young(payload=yes, user=OTHER_USER, address=OTHER_YOUNG))
    assert "That button has expired" in plain(reply)
    assert await held(sessions, USER) == mine
    assert (await held(sessions, OTHER_USER))["users"] == 1
    assert (await held(sessions, OTHER_USER))["feedback"] == theirs["feedback"]


async def test_only_the_newest_confirmation_works(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine)
    _, old_yes, _ = await ask_delete(engine)
    _, new_yes, _ = await ask_delete(engine)
    [stale] = await engine.handle(young(payload=old_yes))
    assert "expired" in plain(stale)
    assert (await held(sessions, USER))["users"] == 1
    [done] = here(await engine.handle(young(payload=new_yes)))
    assert "has been deleted" in plain(done)
    [again] = await engine.handle(young(payload=new_yes))  # pressed twice: now a stranger's
    assert "expired" in plain(again)


async def test_a_crisis_after_delete_still_gets_the_safety_answer_first(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine)
    await ask_delete(engine)
    [safety, *_] = await engine.handle(young("i want to kill myself tonight"))
    assert "1199" in safety.text  # the suicide helpline: the safety answer, not the warning
    assert (await held(sessions, USER))["users"] == 1
    [case] = await all_cases(sessions)
    assert case.category == "suicide" and case.user_id == USER


async def test_a_counsellor_typing_delete_gets_the_staff_answer(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await register(sessions)
    [reply] = await engine.handle(staff(command="delete"))
    assert "no active case" in plain(reply) and reply.buttons == ()
    assert (await held(sessions, "c" * 64))["users"] == 0  # never treated as a young person


# the web chat -------------------------------------------------------------------------------


async def test_delete_from_the_web_chat_removes_that_chats_outbox_only(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await converse(engine, address=WEB)
    async with sessions() as session, session.begin():
        for address in (WEB, WEB, OTHER_WEB):
            session.add(WebOutboxDB(address=outbox_key(SECRET, address), text="x", buttons=[]))
    _, yes, _ = await ask_delete(engine, address=WEB)
    [done] = here(await engine.handle(young(payload=yes, address=WEB)))
    assert "has been deleted" in plain(done)
    assert await held(sessions, USER) == dict.fromkeys(await held(sessions, USER), 0)
    async with sessions() as session:
        left = list(await session.scalars(select(WebOutboxDB.address)))
    assert left == [outbox_key(SECRET, OTHER_WEB)]


# /privacy and /help --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "en",
            [
                "deleted after 90 days",
                "a day at most, rated or not",
                "within a day, I close it",
                "kept for a year after it closes",
                "/mydata shows",
                "/delete deletes",
                "Who sees it",
            ],
        ),
        (
            "sw",
            [
                "baada ya siku 90",
                "kwa muda usiozidi siku moja",
                "ndani ya siku moja, ninalifunga",
                "huhifadhiwa kwa mwaka mmoja baada ya kufungwa",
                "/mydata inaonyesha",
                "/delete inakifuta",
                "Nani anaona",
            ],
        ),
    ],
)
async def test_privacy_says_how_long_who_sees_and_how_to_see_or_delete(
    engine: DialogueEngine, language: str, phrases: list[str]
) -> None:
    await engine.handle(young(command="start"))
    await engine.handle(young(payload=f"lang:{language}"))
    [reply] = await engine.handle(young(command="privacy"))
    for phrase in phrases:
        assert phrase in plain(reply), phrase
    assert "odpc.go.ke" in plain(reply) and "1190" in plain(reply)
    [help_reply] = await engine.handle(young(command="help"))
    assert "/mydata" in plain(help_reply) and "/delete" in plain(help_reply)


async def test_privacy_and_mydata_say_the_configured_retention(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    engine = make_engine(sessions, parser, content, retention_days=30)
    [privacy] = await engine.handle(young(command="privacy"))
    assert "deleted after 30 days" in plain(privacy) and "90 days" not in plain(privacy)
    [summary] = await engine.handle(young(command="mydata"))
    assert "older than 30 days" in plain(summary)


# PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
async def pg_sessions(postgres_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade(postgres_url)
    db = create_engine(postgres_url)
    yield session_factory(db)
    await db.dispose()


@pytest.mark.postgres
async def test_yes_erases_and_unlinks_on_postgresql(
    pg_sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> None:
    engine = make_engine(pg_sessions, parser, content)
    await register(pg_sessions)
    await converse(engine, user=OTHER_USER, address=OTHER_YOUNG)
    others = await held(pg_sessions, OTHER_USER)
    await converse(engine)
    await engine.handle(young(payload="ask:talk_to_counsellor"))
    await engine.handle(staff(command="next"))
    await engine.handle(young("school is too much"))
    await engine.handle(staff("note", command="note"))
    _, yes, _ = await ask_delete(engine)
    replies = await engine.handle(young(payload=yes))
    assert [r.to for r in replies] == ["", STAFF]
    assert await held(pg_sessions, USER) == dict.fromkeys(others, 0)
    assert await held(pg_sessions, OTHER_USER) == others
    [case] = await all_cases(pg_sessions)
    assert case.user_id is None and case.route is None and case.status == "closed"
    assert await count(pg_sessions, CaseNoteDB.id) == 1


async def register(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        counsellor = await add_counsellor(session=session, telegram_id=900001, name="Asha")
        await set_duty(session=session, counsellor_id=counsellor.id, on_duty=True)
