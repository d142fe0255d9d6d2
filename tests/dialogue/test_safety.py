"""A crisis in any message, at any moment, gets the safety answer in the same turn."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import paths
from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.db.models import CaseDB, UserDB
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind, Reply
from bot.safety import load_safety
from tests.conftest import make_engine
from tests.factories import USER, ScriptedParser, button, command, media, payloads, text

TAG = re.compile(r"</?(b|i|a)( href=\"[^\"]*\")?>")

CASES = [
    ("I want to kill myself", "suicide", "en", ["1199", "1190", "999", "112"]),
    ("nataka kujiua", "suicide", "sw", ["1199", "1190", "999", "112"]),
    ("I cut myself again last night", "self_harm", "en", ["1199", "1190"]),
    ("najikata kila siku", "self_harm", "sw", ["1199", "1190"]),
    ("I was raped yesterday", "sexual_violence", "en", ["1195", "116", "72", "120"]),
    ("nilibakwa jana", "sexual_violence", "sw", ["1195", "116", "72", "120"]),
    (
        "he is coming with a knife to kill me",
        "immediate_danger",
        "en",
        ["999", "112", "1195", "116"],
    ),
    ("baba anatupiga sasa hivi", "immediate_danger", "sw", ["999", "112", "1195"]),
    ("I took 20 panadol an hour ago", "overdose", "en", ["999", "112", "1199"]),
    ("rafiki yangu amekunywa sumu ya panya", "overdose", "sw", ["999", "112"]),
    ("I drank jik with tea to remove the pregnancy", "unsafe_abortion", "en", ["1190", "116"]),
    ("nimejaribu kutoa mimba na jik", "unsafe_abortion", "sw", ["1190", "116"]),
    ("my sponsor pays my school fees and wants sex", "exploitation", "en", ["116", "1195"]),
    ("ananitishia atapost picha zangu za uchi", "exploitation", "sw", ["116", "1195"]),
]
SERVICE = {
    "sexual_violence": "svc:gbv_care",
    "immediate_danger": "svc:gbv_care",
    "exploitation": "svc:gbv_care",
    "overdose": "svc:emergency",
    "unsafe_abortion": "svc:emergency",
}


def plain(reply: Reply) -> str:
    return html.unescape(TAG.sub("", reply.text))


async def cases(sessions: async_sessionmaker[AsyncSession]) -> list[CaseDB]:
    async with sessions() as session:
        return list(await session.scalars(select(CaseDB)))


@pytest.mark.parametrize(("message", "category", "language", "numbers"), CASES)
async def test_every_category_gets_the_safety_answer_and_an_urgent_case(
    engine: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
    message: str,
    category: str,
    language: str,
    numbers: list[str],
) -> None:
    [reply] = await engine.handle(text(message))
    for number in numbers:
        assert number in reply.text, number
    assert payloads(reply)[-2:] == ["safe", "menu"]
    assert (
        (SERVICE.get(category) in payloads(reply))
        if category in SERVICE
        else len(payloads(reply)) == 2
    )
    assert reply.calls and all(call.number in reply.text for call in reply.calls)
    safe_label = reply.buttons[-2][0].label
    assert safe_label in (
        ("Niko salama sasa", "Yuko salama sasa")
        if language == "sw"
        else ("I'm safe now", "They're safe now")
    )
    [case] = await cases(sessions)
    assert (case.category, case.priority, case.status, case.source) == (
        category,
        "urgent",
        "waiting",
        "crisis",
    )
    assert case.user_id == USER and case.language == language
    assert (case.matched and message not in case.matched) or case.matched.startswith("rule:")


async def test_no_brush_off_and_no_judgement(engine: DialogueEngine) -> None:
    [reply] = await engine.handle(text("I want to kill myself"))
    lowered = plain(reply).lower()
    assert "just a bot" not in lowered and "only a bot" not in lowered


async def test_a_second_crisis_keeps_one_open_case(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await engine.handle(text("nataka kujiua"))
    await engine.handle(text("nilibakwa jana"))
    [case] = await cases(sessions)
    assert case.priority == "urgent" and case.last_crisis_at is not None


async def test_a_friend_gets_help_framed_for_helping_a_friend(engine: DialogueEngine) -> None:
    [self_reply] = await engine.handle(text("I want to kill myself"))
    [friend_reply] = await engine.handle(
        text("my friend says she wants to kill herself", user="f" * 64)
    )
    assert friend_reply.text != self_reply.text
    assert "friend" in plain(friend_reply).lower()
    assert "1199" in friend_reply.text


@pytest.mark.parametrize(
    "idiom",
    [
        "this exam is killing me",
        "I'm dying to know how prep works",
        "nimechoka na shule",
        "my phone died lol",
        "I cut my hair yesterday",
    ],
)
async def test_idioms_are_not_crises(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession], idiom: str
) -> None:
    [reply] = await engine.handle(text(idiom))
    assert "safe" not in payloads(reply) and not reply.calls
    assert not any(p.startswith("chk:") for p in payloads(reply))
    assert await cases(sessions) == []


@pytest.mark.parametrize(
    "message",
    [
        "is romeo and juliet about suicide? for my english essay",
        "kwenye habari kijana amejiua, inasikitisha",
        "i had suicidal thoughts in form 3 but im better now, can depression come back",
    ],
)
async def test_crisis_words_in_a_film_a_question_or_the_past_get_an_ordinary_answer(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession], message: str
) -> None:
    [reply] = await engine.handle(text(message))
    assert "safe" not in payloads(reply) and not reply.calls
    assert await cases(sessions) == []


async def test_the_same_frame_with_a_present_risk_gets_the_safety_answer(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [reply] = await engine.handle(
        text("the song is about a guy who wants to die, that's me tonight")
    )
    assert "1199" in reply.text and "safe" in payloads(reply)
    [case] = await cases(sessions)
    assert case.priority == "urgent" and case.category == "suicide"


async def test_crisis_during_the_language_choice(engine: DialogueEngine) -> None:
    await engine.handle(command("start"))
    [reply] = await engine.handle(text("nataka kujiua"))
    assert "1199" in reply.text and "Niko salama sasa" in [
        b.label for row in reply.buttons for b in row
    ]


@pytest.mark.parametrize(
    "state", ["choosing_language", "topic", "answered", "referral", "waiting_counsellor"]
)
async def test_crisis_in_any_state_gets_the_safety_answer(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession], state: str
) -> None:
    await engine.handle(command("menu"))
    async with sessions() as session, session.begin():
        user = await session.get(UserDB, USER)
        assert user is not None
        user.state = state
    [reply] = await engine.handle(text("I was raped yesterday"))
    assert "1195" in reply.text and "svc:gbv_care" in payloads(reply)


async def test_crisis_right_after_bad_input(engine: DialogueEngine) -> None:
    await engine.handle(media())
    await engine.handle(button("forged:data"))
    [reply] = await engine.handle(text("i want to die"))
    assert "1199" in reply.text


async def test_the_safety_answer_does_not_need_the_parser(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> None:
    engine = make_engine(sessions, ScriptedParser(None), content)
    [reply] = await engine.handle(text("nataka kujiua"))
    assert "1199" in reply.text
    assert len(await cases(sessions)) == 1


async def test_the_safety_answer_does_not_need_the_database(
    engine_without_database: DialogueEngine, caplog: pytest.LogCaptureFixture
) -> None:
    [reply] = await engine_without_database.handle(text("I was raped yesterday by Otieno"))
    assert "1195" in reply.text and "116" in reply.text
    assert "crisis case not stored" in caplog.text
    assert "Otieno" not in caplog.text and "raped" not in caplog.text


async def test_an_nlu_detected_crisis_also_gets_the_safety_answer(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> None:
    from nlu.parser import Crisis, IntentScore, ParseResult

    ranking = (IntentScore("suicidal_thoughts", 0.8),)
    scripted = ScriptedParser(
        ParseResult("x", ranking[0], ranking, (), "en", Crisis(True, "suicide", "intent:x"))
    )
    engine = make_engine(sessions, scripted, content)
    [reply] = await engine.handle(text("sometimes the only way out seems the river"))
    assert "1199" in reply.text and "safe" in payloads(reply)
    assert len(await cases(sessions)) == 1


@pytest.mark.parametrize("word", ["exit", "toka", "EXIT", " Toka "])
async def test_quick_exit_returns_the_recent_messages_to_delete_and_a_neutral_line(
    engine: DialogueEngine, word: str
) -> None:
    await engine.handle(command("start"))
    await engine.remember_channel_messages(USER, [11, 12, 13])
    [reply] = await engine.handle(text(word))
    assert reply.delete_message_ids == (11, 12, 13)
    assert reply.buttons == ()
    for revealing in ("health", "HIV", "afya", "counsellor", "mshauri", "1190"):
        assert revealing not in reply.text
    [again] = await engine.handle(command("exit"))
    assert again.delete_message_ids == ()


async def test_quick_exit_clears_every_message_kept_however_many(engine: DialogueEngine) -> None:
    """Everything of the last two days goes (the purge bounds it), not only the latest 100."""
    await engine.handle(command("start"))
    for first in range(1000, 1250, 2):  # a long conversation: 125 turns of two messages
        await engine.remember_channel_messages(USER, [first, first + 1])
    [reply] = await engine.handle(command("exit"))
    assert reply.delete_message_ids == tuple(range(1000, 1250))


def test_every_safety_message_renders_in_both_languages_and_formats(content: ContentStore) -> None:
    texts = load_safety(paths.CONTENT_DIR / "safety", Renderer(content)).texts  # no classifier
    assert len(texts.answers) == 7 * 2 * 2 * 2  # categories, self/friend, languages, formats
    assert len(texts.check_ins) == (7 + 1) * 2 * 2  # and one check-in about someone else
    for key, value in {**texts.answers, **texts.check_ins}.items():
        assert value and "{{" not in value, key


async def test_a_crisis_on_telegram_is_answered_when_the_database_cannot_say_who_is_staff(
    engine_without_database: DialogueEngine,
) -> None:
    """The staff check needs the database; when it fails, the crisis check still comes first."""
    inbound = Inbound(
        "u-telegram",
        "telegram",
        InboundKind.TEXT,
        text="I want to kill myself",
        address="telegram:4242",
    )
    [reply, *_] = await engine_without_database.handle(inbound)
    assert "1199" in reply.text or "1190" in reply.text, reply.text
