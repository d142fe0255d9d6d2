"""Forged input to the case desk: staff commands from strangers, case ids that are not yours,
and buttons naming someone else's case or answer. Each is refused and changes nothing; the
database says so, not just the reply.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.repository import add_counsellor, set_duty
from bot.db.models import CaseDB, CaseMessageDB, CaseNoteDB, CounsellorDB, FeedbackDB, MessageDB
from bot.dialogue.counsellor import COUNSELLOR_COMMANDS
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind, Reply

Sessions = async_sessionmaker[AsyncSession]
STAFF_A, STAFF_B = 900001, 900002
YOUNG_1 = ("1" * 64, "telegram:555000111")
YOUNG_2 = ("2" * 64, "telegram:555000222")
STRANGER = ("3" * 64, "telegram:555000333")
TAG = re.compile(r"<[^>]+>")
NOT_AVAILABLE = "That command isn't available."
FORGED_IDS = (
    "2",  # the other counsellor's active case (replaced by its real id below)
    "999",  # no such case
    "-2",
    "0",
    "99999999999999999999999999",  # beyond any integer column
    "abc",
    "1 OR 1=1",
    "1; DROP TABLE cases",
    "2 --",
    "２",  # a full-width digit: str.isdigit() says yes
    "²",  # a superscript: isdigit() says yes, int() says no
    "",
)


def plain(reply: Reply) -> str:
    return html.unescape(TAG.sub("", reply.text))


def from_young(
    who: tuple[str, str], text: str = "", *, command: str = "", payload: str = ""
) -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.BUTTON if payload else InboundKind.TEXT
    user, address = who
    return Inbound(
        user, "telegram", kind, text=text, command=command, payload=payload, address=address
    )


def from_staff(
    telegram_id: int, text: str = "", *, command: str = "", payload: str = ""
) -> Inbound:
    kind = InboundKind.COMMAND if command else InboundKind.BUTTON if payload else InboundKind.TEXT
    return Inbound(
        f"{telegram_id}".ljust(64, "s"),
        "telegram",
        kind,
        text=text,
        command=command,
        payload=payload,
        address=f"telegram:{telegram_id}",
    )


@dataclass(frozen=True)
class Snapshot:
    """Everything about cases that a forged message must leave alone."""

    cases: list[tuple[Any, ...]]
    transcript: list[tuple[int, str, str]]
    notes: list[tuple[int, int | None, str]]
    counsellors: list[tuple[int, bool]]
    feedback: list[tuple[str, int, bool]]


async def snapshot(sessions: Sessions) -> Snapshot:
    async with sessions() as session:
        case_rows = await session.scalars(select(CaseDB).order_by(CaseDB.id))
        return Snapshot(
            [
                (c.id, c.user_id, c.status, c.counsellor_id, c.resolution, c.rating, c.route)
                for c in case_rows
            ],
            [
                (m.case_id, m.sender, m.text)
                for m in await session.scalars(select(CaseMessageDB).order_by(CaseMessageDB.id))
            ],
            [
                (n.case_id, n.counsellor_id, n.text)
                for n in await session.scalars(select(CaseNoteDB).order_by(CaseNoteDB.id))
            ],
            [
                (c.id, c.on_duty)
                for c in await session.scalars(select(CounsellorDB).order_by(CounsellorDB.id))
            ],
            [
                (f.user_id, f.message_id, f.helpful)
                for f in await session.scalars(select(FeedbackDB).order_by(FeedbackDB.id))
            ],
        )


async def register(sessions: Sessions, telegram_id: int) -> int:
    async with sessions() as session, session.begin():
        counsellor = await add_counsellor(session=session, telegram_id=telegram_id, name="Staff")
        await set_duty(session=session, counsellor_id=counsellor.id, on_duty=True)
        return counsellor.id


async def case_of(sessions: Sessions, user_id: str) -> CaseDB:
    async with sessions() as session:
        case = await session.scalar(select(CaseDB).where(CaseDB.user_id == user_id))
        assert case is not None
        return case


async def ask_for_a_counsellor(engine: DialogueEngine, who: tuple[str, str]) -> None:
    await engine.handle(from_young(who, command="start"))
    await engine.handle(from_young(who, payload="lang:en"))
    await engine.handle(from_young(who, payload="ask:talk_to_counsellor"))


@dataclass(frozen=True)
class Desk:
    engine: DialogueEngine
    sessions: Sessions
    mine: int  # counsellor A's active case (young person 1)
    others: int  # counsellor B's active case (young person 2)


@pytest.fixture
async def desk(engine: DialogueEngine, sessions: Sessions) -> Desk:
    """Two counsellors on duty, each with an active case, both taken through the bot."""
    await register(sessions, STAFF_A)
    await register(sessions, STAFF_B)
    await ask_for_a_counsellor(engine, YOUNG_1)
    await ask_for_a_counsellor(engine, YOUNG_2)
    mine, others = (
        (await case_of(sessions, YOUNG_1[0])).id,
        (await case_of(sessions, YOUNG_2[0])).id,
    )
    [took, *_] = await engine.handle(from_staff(STAFF_A, str(mine), command="take"))
    assert f"You have case {mine}" in plain(took)
    [took, *_] = await engine.handle(from_staff(STAFF_B, str(others), command="take"))
    assert f"You have case {others}" in plain(took)
    await engine.handle(from_young(YOUNG_2, "a secret only counsellor B may read"))
    await engine.handle(from_staff(STAFF_B, "noted by B", command="note"))
    return Desk(engine, sessions, mine, others)


def forged_ids(others: int) -> list[str]:
    return [str(others) if value == "2" else value for value in FORGED_IDS]


def addressed_to(replies: Sequence[Reply], who: tuple[str, str]) -> list[Reply]:
    return [r for r in replies if r.to == who[1]]


# strangers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COUNSELLOR_COMMANDS))
@pytest.mark.parametrize("who", ["stranger", "young person in a case", "web chat"])
async def test_a_counsellor_command_from_anyone_else_is_not_available_and_changes_nothing(
    desk: Desk, command: str, who: str
) -> None:
    sender = {
        "stranger": from_young(STRANGER, command=command),
        "young person in a case": from_young(YOUNG_1, command=command),
        "web chat": Inbound(
            "w" * 64, "web", InboundKind.COMMAND, command=command, address="web:" + "t" * 43
        ),
    }[who]
    before = await snapshot(desk.sessions)
    for argument in ("", "on", *forged_ids(desk.others)):
        inbound = Inbound(
            sender.user_id,
            sender.channel,
            InboundKind.COMMAND,
            command=command,
            text=argument,
            address=sender.address,
        )
        replies = await desk.engine.handle(inbound)
        assert [plain(r) for r in replies] == [NOT_AVAILABLE], (command, argument)
        assert all(not r.to for r in replies), "nobody else hears of it"
    assert await snapshot(desk.sessions) == before


# a counsellor and someone else's case -----------------------------------------------------------


async def test_take_with_a_forged_case_id_never_takes_someone_elses_case(desk: Desk) -> None:
    """Counsellor A, with a case of their own and without one, tries every forged id."""
    for has_a_case in (True, False):
        if not has_a_case:
            await desk.engine.handle(from_staff(STAFF_A, command="transfer"))
            await desk.engine.handle(from_staff(STAFF_B, command="duty", text="off"))
        refusals = {
            f"Close or /transfer case {desk.mine} first." if has_a_case else "",
            "No waiting case to take (someone else may have taken it).",
            "Which case? /take N (see /queue)",
        }
        before = await snapshot(desk.sessions)
        answers = {
            forged: await desk.engine.handle(from_staff(STAFF_A, forged, command="take"))
            for forged in forged_ids(desk.others)
        }
        assert await snapshot(desk.sessions) == before
        assert not [r for replies in answers.values() for r in addressed_to(replies, YOUNG_2)]
        wrong = {f: plain(r[0]) for f, r in answers.items() if plain(r[0]) not in refusals}
        assert not wrong, "a plain refusal for each forged id, not an error"
    others = await case_of(desk.sessions, YOUNG_2[0])
    assert others.status == "active" and others.counsellor_id is not None


async def test_take_of_a_waiting_case_by_its_real_id_works(desk: Desk) -> None:
    """The control: the same command does take a case when it is free to take."""
    await desk.engine.handle(from_staff(STAFF_B, command="transfer"))
    await desk.engine.handle(from_staff(STAFF_A, command="transfer"))
    replies = await desk.engine.handle(from_staff(STAFF_A, str(desk.others), command="take"))
    assert f"You have case {desk.others}" in plain(replies[0])


@pytest.mark.parametrize("has_a_case", [True, False], ids=["with a case", "without a case"])
async def test_note_close_transfer_and_replies_only_ever_reach_your_own_case(
    desk: Desk, has_a_case: bool
) -> None:
    """/note, /close, /transfer take no case id: an id typed after them is just text, and they
    act on the counsellor's own active case, or on nothing."""
    if not has_a_case:
        await desk.engine.handle(from_staff(STAFF_A, command="transfer"))
    before = await snapshot(desk.sessions)
    others_before = [row for row in before.cases if row[0] == desk.others]

    for forged in forged_ids(desk.others):
        note = await desk.engine.handle(from_staff(STAFF_A, f"{forged} note", command="note"))
        reply = await desk.engine.handle(from_staff(STAFF_A, f"{forged} hello, case 2 person"))
        for replies in (note, reply):
            assert not addressed_to(replies, YOUNG_2), forged
        if not has_a_case:
            assert "You have no active case" in plain(note[0])
            assert "You have no active case" in plain(reply[0])
    if has_a_case:
        closed = await desk.engine.handle(from_staff(STAFF_A, str(desk.others), command="close"))
        assert not addressed_to(closed, YOUNG_2)
        assert f"Case {desk.mine} closed" in plain(closed[0]), "its own case, `2` the resolution"
    else:
        for command in ("close", "transfer"):
            [refused] = await desk.engine.handle(
                from_staff(STAFF_A, str(desk.others), command=command)
            )
            assert "You have no active case" in plain(refused)

    after = await snapshot(desk.sessions)
    assert [row for row in after.cases if row[0] == desk.others] == others_before
    assert [n for n in after.notes if n[0] == desk.others] == [
        n for n in before.notes if n[0] == desk.others
    ]
    assert [m for m in after.transcript if m[0] == desk.others] == [
        m for m in before.transcript if m[0] == desk.others
    ]
    if not has_a_case:
        assert after == before


async def test_a_counsellor_pressing_a_young_persons_button_changes_nothing(desk: Desk) -> None:
    before = await snapshot(desk.sessions)
    for payload in (f"rate:{desk.others}:5", f"rate:{desk.mine}:1", "fb:1:1", "erase:yes"):
        replies = await desk.engine.handle(from_staff(STAFF_A, payload=payload))
        assert [plain(r) for r in replies] == [
            "Only text reaches the young person. Commands: /queue, /next, /close."
        ]
    assert await snapshot(desk.sessions) == before


# a young person's forged buttons ----------------------------------------------------------------


async def stale_answer(engine: DialogueEngine, who: tuple[str, str]) -> list[str]:
    return [plain(r) for r in await engine.handle(from_young(who, payload="not-a-payload"))]


async def test_rating_someone_elses_case_is_refused_and_leaves_it_unrated(desk: Desk) -> None:
    await desk.engine.handle(from_staff(STAFF_A, "talked it through", command="close"))
    await desk.engine.handle(from_staff(STAFF_B, "talked it through", command="close"))
    stale = await stale_answer(desk.engine, YOUNG_1)
    before = await snapshot(desk.sessions)
    forged = [
        f"rate:{desk.others}:5",
        f"rate:{desk.others}:1",
        f"rate:{desk.mine}:9",  # their own case, a rating out of range
        f"rate:{desk.mine}:0",
        f"rate:{desk.mine}:-1",
        f"rate:{desk.mine}:５",
        f"rate:{desk.mine}:5:extra",
        f"rate:-{desk.mine}:5",
        "rate:99999999999999999999999999:5",
        "rate:1 OR 1=1:5",
        "rate:1; DROP TABLE cases:5",
        "rate:²:5",
        "rate::5",
        "rate",
    ]
    answers = {p: await desk.engine.handle(from_young(YOUNG_1, payload=p)) for p in forged}
    assert await snapshot(desk.sessions) == before
    wrong = {p: plain(r[0])[:40] for p, r in answers.items() if [plain(x) for x in r] != stale}
    assert not wrong, "a stale-button answer for each, not an error"
    others = await case_of(desk.sessions, YOUNG_2[0])
    assert others.rating is None and others.route is not None, "still theirs to rate"

    [thanks] = await desk.engine.handle(from_young(YOUNG_2, payload=f"rate:{desk.others}:4"))
    assert "Thank you" in plain(thanks), "the control: the owner's button works"
    assert (await case_of(desk.sessions, YOUNG_2[0])).rating == 4


async def answered(engine: DialogueEngine, sessions: Sessions, who: tuple[str, str]) -> int:
    """Ask a question; the id of the answer the bot logged (its 👍/👎 buttons name it)."""
    replies = await engine.handle(from_young(who, "what is prep"))
    payloads = [b.payload for r in replies for row in r.buttons for b in row]
    async with sessions() as session:
        message_id = await session.scalar(
            select(MessageDB.id)
            .where(MessageDB.user_id == who[0], MessageDB.kind == "answer")
            .order_by(MessageDB.id.desc())
        )
    assert message_id is not None and f"fb:{message_id}:1" in payloads
    return int(message_id)


async def test_feedback_on_someone_elses_answer_is_refused_and_changes_nothing(
    engine: DialogueEngine, sessions: Sessions
) -> None:
    for who in (YOUNG_1, YOUNG_2):
        await engine.handle(from_young(who, command="start"))
        await engine.handle(from_young(who, payload="lang:en"))
    mine = await answered(engine, sessions, YOUNG_1)
    theirs = await answered(engine, sessions, YOUNG_2)
    await engine.handle(from_young(YOUNG_2, payload=f"fb:{theirs}:0"))
    stale = await stale_answer(engine, YOUNG_1)
    before = await snapshot(sessions)
    assert before.feedback == [(YOUNG_2[0], theirs, False)]
    forged = [
        f"fb:{theirs}:1",
        f"fb:{theirs}:0",
        f"fb:{mine}:2",  # their own answer, a vote that is neither 0 nor 1
        f"fb:{mine}:-1",
        f"fb:-{theirs}:1",
        f"fb:{mine - 1}:1",  # not an answer: their own question
        "fb:0:1",
        "fb:99999999999999999999999999:1",
        "fb:1 OR 1=1:1",
        f"fb:{theirs}; DELETE FROM feedback:1",  # noqa: S608 - a forged button, not a query
        "fb:²:1",
        "fb::1",
    ]
    answers = {p: await engine.handle(from_young(YOUNG_1, payload=p)) for p in forged}
    assert await snapshot(sessions) == before, "their 👎 is still a 👎"
    wrong = {p: plain(r[0])[:40] for p, r in answers.items() if [plain(x) for x in r] != stale}
    assert not wrong, "a stale-button answer for each, not an error"

    await engine.handle(from_young(YOUNG_1, payload=f"fb:{mine}:1"))
    after = await snapshot(sessions)
    assert after.feedback == [(YOUNG_2[0], theirs, False), (YOUNG_1[0], mine, True)], "control"
