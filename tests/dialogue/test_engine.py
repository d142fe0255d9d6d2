"""Everything a young person sees, tested once, in the engine, in English and Kiswahili."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.store import ContentStore
from bot.db.models import FeedbackDB, MessageDB, UserDB
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind, Reply
from bot.dialogue.split import TELEGRAM_LIMIT, utf16_length
from tests.conftest import make_engine
from tests.factories import (
    OTHER_USER,
    USER,
    ScriptedParser,
    button,
    command,
    labels,
    media,
    payloads,
    result,
    text,
)

MENU_EN = [
    "HIV & PrEP",
    "Contraception & pregnancy",
    "STIs",
    "Periods & body",
    "Relationships & consent",
    "Violence & safety",
    "Mental health",
    "Alcohol & drugs",
    "Find a service",
    "Talk to a counsellor",
]
MENU_SW = [
    "HIV na PrEP",
    "Uzazi wa mpango na mimba",
    "Magonjwa ya zinaa (STI)",
    "Hedhi na mwili",
    "Mahusiano na ridhaa",
    "Ukatili na usalama",
    "Afya ya akili",
    "Pombe na dawa za kulevya",
    "Tafuta huduma",
    "Ongea na mshauri",
]
TAG = re.compile(r"</?(b|i|a)( href=\"[^\"]*\")?>")


def plain(reply: Reply) -> str:
    """The text a user reads: tags removed, entities decoded."""
    return html.unescape(TAG.sub("", reply.text))


async def choose(engine: DialogueEngine, language: str, user: str = USER) -> None:
    await engine.handle(command("start", user))
    await engine.handle(button(f"lang:{language}", user))


async def user_row(sessions: async_sessionmaker[AsyncSession], user: str = USER) -> UserDB:
    async with sessions() as session:
        row = await session.get(UserDB, user)
        assert row is not None
        return row


# /start and language ---------------------------------------------------------------------


async def test_start_greets_in_both_languages_and_offers_the_choice(engine: DialogueEngine) -> None:
    [reply] = await engine.handle(command("start"))
    assert "Hi!" in plain(reply) and "Habari!" in plain(reply)
    assert "anonymous" in plain(reply) and "/privacy" in plain(reply)
    assert labels(reply) == ["English", "Kiswahili"]
    assert payloads(reply) == ["lang:en", "lang:sw"]


@pytest.mark.parametrize(
    ("language", "menu", "confirmation"),
    [
        ("en", MENU_EN, "I'll reply in English"),
        ("sw", MENU_SW, "nitajibu kwa Kiswahili"),
    ],
)
async def test_choosing_a_language_is_remembered_and_shows_the_topic_menu(
    engine: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
    language: str,
    menu: list[str],
    confirmation: str,
) -> None:
    await engine.handle(command("start"))
    [reply] = await engine.handle(button(f"lang:{language}"))
    assert confirmation in plain(reply)
    assert labels(reply) == menu
    assert (await user_row(sessions)).language == language
    [again] = await engine.handle(command("start"))
    assert labels(again) == menu, "a returning user goes straight to the menu"


async def test_language_command_offers_the_choice_again(engine: DialogueEngine) -> None:
    await choose(engine, "sw")
    [reply] = await engine.handle(command("language"))
    assert payloads(reply) == ["lang:en", "lang:sw"]
    [switched] = await engine.handle(button("lang:en"))
    assert labels(switched) == MENU_EN


# menus --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "How do I get tested for HIV?"), ("sw", "Napimaje HIV?")]
)
async def test_a_topic_opens_a_sub_menu_of_questions(
    engine: DialogueEngine, language: str, expected: str
) -> None:
    await choose(engine, language)
    [reply] = await engine.handle(button("topic:hiv"))
    assert expected in labels(reply)
    assert payloads(reply)[:5] == [
        "ask:hiv_basics",
        "ask:hiv_testing",
        "ask:hiv_prep",
        "ask:hiv_pep",
        "ask:hiv_treatment",
    ]
    assert payloads(reply)[-1] == "menu"


async def test_every_topic_of_the_menu_opens_and_every_question_answers(
    engine: DialogueEngine, content: ContentStore
) -> None:
    await choose(engine, "en")
    for topic in content.menu.topics:
        if topic.action:
            [reply] = await engine.handle(button(f"ask:{topic.action}"))
            assert "menu" in payloads(reply)
            continue
        [sub_menu] = await engine.handle(button(f"topic:{topic.id}"))
        for payload in payloads(sub_menu)[:-1]:
            [answer] = await engine.handle(button(payload))
            assert answer.text.startswith("<b>"), payload
            assert any(p.startswith("fb:") for p in payloads(answer)), payload


@pytest.mark.parametrize("name", ["menu", "help", "privacy", "language"])
async def test_commands_work_from_anywhere_even_before_start(
    engine: DialogueEngine, name: str
) -> None:
    replies = await engine.handle(command(name))
    assert replies and all(r.text for r in replies)
    assert replies[-1].buttons


async def test_privacy_explains_what_is_stored_in_both_languages(engine: DialogueEngine) -> None:
    [english] = await engine.handle(command("privacy"))
    assert "name" in plain(english) and "do not store the words you type" in plain(english)
    await choose(engine, "sw")
    [swahili] = await engine.handle(command("privacy"))
    assert "Sihifadhi maneno unayoandika" in plain(swahili)


async def test_unknown_command_points_to_help(engine: DialogueEngine) -> None:
    unknown, help_reply = await engine.handle(command("frobnicate"))
    assert "don't know that command" in plain(unknown)
    assert "/menu" in plain(help_reply) and "/privacy" in plain(help_reply)


# free-text questions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "language", "title"),
    [
        ("how do i get tested for hiv", "en", "Getting tested for HIV"),
        ("nataka kupima ukimwi", "sw", "Kupima HIV"),
        ("what is prep", "en", "PrEP"),
        ("nawezaje kutumia kondomu vizuri", "sw", None),
        ("i feel so sad and empty every day", "en", None),
    ],
)
async def test_a_question_is_answered_from_curated_content(
    engine: DialogueEngine, message: str, language: str, title: str | None
) -> None:
    await choose(engine, language)
    [reply] = await engine.handle(text(message))
    assert reply.text.startswith("<b>")
    if title:
        assert title in plain(reply)
    expected_prompt = "Je, hii imesaidia?" if language == "sw" else "Was this helpful?"
    assert expected_prompt in plain(reply)
    fb = [p for p in payloads(reply) if p.startswith("fb:")]
    assert len(fb) == 2 and fb[0].endswith(":1") and fb[1].endswith(":0")
    assert any(p.startswith("more:") for p in payloads(reply))
    assert payloads(reply)[-1] == "menu"


async def test_an_answer_cites_its_sources_and_review_date(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    [reply] = await engine.handle(button("ask:hiv_testing"))
    assert "Sources: World Health Organization 2019; NASCOP 2015" in plain(reply)
    assert "reviewed 2026-11-23" in plain(reply)
    [more] = await engine.handle(button("more:hiv_testing"))
    assert '<a href="https://www.who.int/publications/i/item/978-92-4-155058-1">' in more.text
    assert "window" not in more.text or "4 weeks" in more.text
    assert "1190" in more.text, "the helpline comes from helplines.yml"


async def test_follow_up_buttons_lead_to_related_answers(engine: DialogueEngine) -> None:
    await choose(engine, "en")
    [reply] = await engine.handle(button("ask:hiv_testing"))
    assert {"ask:hiv_prep", "ask:hiv_pep", "ask:hiv_treatment"} <= set(payloads(reply))
    [prep] = await engine.handle(button("ask:hiv_prep"))
    assert "PrEP" in plain(prep)


async def test_language_is_detected_when_the_user_has_not_chosen(engine: DialogueEngine) -> None:
    [reply] = await engine.handle(text("nataka kupima ukimwi"))
    assert "Kupima HIV" in plain(reply)
    [english] = await engine.handle(text("how do i get tested for hiv", user=OTHER_USER))
    assert "Getting tested for HIV" in plain(english)


async def test_a_chosen_language_wins_over_the_language_of_the_message(
    engine: DialogueEngine,
) -> None:
    await choose(engine, "en")
    [reply] = await engine.handle(text("nataka kupima ukimwi"))
    assert "Getting tested for HIV" in plain(reply)


@pytest.mark.parametrize(
    ("language", "thanks_text"), [("en", "glad it helped"), ("sw", "Nafurahi")]
)
async def test_feedback_is_stored_and_can_be_changed(
    engine: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
    language: str,
    thanks_text: str,
) -> None:
    await choose(engine, language)
    [answer] = await engine.handle(button("ask:condoms"))
    yes, no = (p for p in payloads(answer) if p.startswith("fb:"))
    [thanks] = await engine.handle(button(yes))
    assert thanks_text in plain(thanks)
    [sorry] = await engine.handle(button(no))
    assert "1190" in plain(sorry)
    async with sessions() as session:
        rows = (await session.scalars(select(FeedbackDB))).all()
    assert [(r.content_id, r.helpful) for r in rows] == [("condoms", False)]


async def test_feedback_on_someone_elses_answer_is_refused(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await choose(engine, "en")
    [answer] = await engine.handle(button("ask:condoms"))
    yes = next(p for p in payloads(answer) if p.startswith("fb:"))
    [reply] = await engine.handle(button(yes, user=OTHER_USER))
    assert "expired" in plain(reply)
    assert "topic:hiv" in payloads(reply)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FeedbackDB)) == 0


async def test_low_confidence_offers_the_top_three_topics(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> None:
    parser = ScriptedParser(
        result("hiv_prep", 0.2, ("hiv_pep", 0.18), ("greet", 0.1), ("condoms", 0.09), ("sti", 0.05))
    )
    engine = make_engine(sessions, parser, content)
    [reply] = await engine.handle(text("prep or pep?"))
    assert "Did you mean" in plain(reply)
    assert payloads(reply) == ["ask:hiv_prep", "ask:hiv_pep", "ask:condoms", "menu"]


async def test_gibberish_gets_did_you_mean_not_a_wrong_answer(engine: DialogueEngine) -> None:
    await choose(engine, "sw")
    [reply] = await engine.handle(text("qwzx vbnm plk"))
    assert "Ulimaanisha" in plain(reply)
    assert len([p for p in payloads(reply) if p.startswith("ask:")]) == 3


@pytest.mark.parametrize(("language", "fragment"), [("en", "health"), ("sw", "afya")])
async def test_out_of_scope_gets_a_kind_scope_message_and_the_menu(
    engine: DialogueEngine, language: str, fragment: str
) -> None:
    await choose(engine, language)
    [reply] = await engine.handle(text("who won the arsenal match yesterday"))
    assert fragment in plain(reply).lower()
    assert len(payloads(reply)) == 10 and "topic:hiv" in payloads(reply)


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("hi", "greet"),
        ("niaje msee", "greet"),
        ("thanks a lot", "thanks"),
        ("asante sana", "thanks"),
        ("bye", "goodbye"),
        ("kwaheri", "goodbye"),
        ("are you a bot", "bot_challenge"),
        ("wewe ni robot ama mtu", "bot_challenge"),
    ],
)
async def test_small_talk_gets_short_natural_replies(
    engine: DialogueEngine,
    content: ContentStore,
    sessions: async_sessionmaker[AsyncSession],
    message: str,
    intent: str,
) -> None:
    [reply] = await engine.handle(text(message))
    assert len(plain(reply)) <= 320
    assert reply.buttons
    async with sessions() as session:
        logged = await session.scalar(
            select(MessageDB.intent)
            .where(MessageDB.direction == "in")
            .order_by(MessageDB.id.desc())
        )
    assert logged == intent


# bad input ------------------------------------------------------------------------------------


async def test_media_gets_a_kind_text_only_reply_with_the_menu(engine: DialogueEngine) -> None:
    await choose(engine, "sw")
    [reply] = await engine.handle(media())
    assert "maandishi tu" in plain(reply)
    assert labels(reply) == MENU_SW


@pytest.mark.parametrize(
    "hostile",
    [
        "<b>bold</b> & <script>alert(1)</script> how do i test for hiv",
        "*_[`]_* what is prep",
        "{{ 7*7 }} {% for x in range(9) %}x{% endfor %} condoms",
        "'; DROP TABLE users; -- hiv test",
        "😀😀😀🙏🏾",
        "a" * 4096,
        "hiv " * 1024,
    ],
)
async def test_hostile_or_odd_text_is_answered_never_echoed_or_evaluated(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession], hostile: str
) -> None:
    replies = await engine.handle(text(hostile))
    assert replies
    for reply in replies:
        assert "<script>" not in plain(reply) and "49" not in plain(reply)
        assert hostile[:40] not in plain(reply)
        assert utf16_length(reply.text) <= TELEGRAM_LIMIT
        assert set(TAG.sub("", reply.text)) & {"<", ">"} == set()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(UserDB)) == 1


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "nonsense",
        "ask:no_such_intent",
        "topic:nope",
        "more:../../etc",
        "fb:abc:1",
        "fb:99999:1",
        "fb:1:7",
        "lang:fr",
        "ask:" + "x" * 80,
        "menu:extra:parts:too:many",
        "ask:greet\x00",
    ],
)
async def test_stale_or_forged_button_data_gets_a_graceful_reply_and_the_menu(
    engine: DialogueEngine, forged: str
) -> None:
    [reply] = await engine.handle(button(forged))
    assert "expired" in plain(reply) or "Ulimaanisha" in plain(reply)
    assert "topic:hiv" in payloads(reply)


async def test_parser_failure_gets_a_kind_reply(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> None:
    engine = make_engine(sessions, ScriptedParser(None), content)
    [reply] = await engine.handle(text("hello"))
    assert "try again" in plain(reply)
    assert "topic:hiv" in payloads(reply)


async def test_a_failing_database_gets_an_apology_not_an_exception(
    engine_without_database: DialogueEngine, caplog: pytest.LogCaptureFixture
) -> None:
    [reply] = await engine_without_database.handle(text("secret words 0722000000"))
    assert "Sorry, something went wrong" in plain(reply) and "1190" in plain(reply)
    assert "secret words" not in caplog.text and "0722000000" not in caplog.text
    assert "turn failed" in caplog.text


async def test_long_replies_are_split_under_the_telegram_limit() -> None:
    from bot.dialogue.engine import _split
    from bot.dialogue.messages import Button

    long_text = "\n\n".join(f"Paragraph {i} " + "word " * 150 for i in range(12))
    parts = _split(Reply(long_text, ((Button("Menu", "menu"),),)))
    assert len(parts) > 1
    assert all(utf16_length(p.text) <= TELEGRAM_LIMIT for p in parts)
    assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert "".join(p.text.replace("\n", "").replace(" ", "") for p in parts) == long_text.replace(
        "\n", ""
    ).replace(" ", "")


def test_a_split_reply_keeps_its_chat_its_deletions_and_its_keyboards() -> None:
    from bot.dialogue.engine import _split
    from bot.dialogue.messages import Button

    reply = Reply(
        "word " * 2000,
        ((Button("Menu", "menu"),),),
        delete_message_ids=(7, 8),
        request_location="Share my location",
        to="telegram:900001",
    )
    first, *middle, last = _split(reply)
    assert [p.to for p in (first, *middle, last)] == ["telegram:900001"] * (len(middle) + 2)
    assert first.delete_message_ids == (7, 8)
    assert [p.delete_message_ids for p in (*middle, last)] == [()] * (len(middle) + 1)
    assert last.buttons == reply.buttons and last.request_location == "Share my location"
    assert not any(p.buttons or p.request_location for p in (first, *middle))


@pytest.mark.parametrize(
    "forged", ["fb:99999999999999999999:1", "fb:²:1", "fb:２:1", "fb:+1:1", "fb: 1:1", "fb:1_0:1"]
)
async def test_feedback_on_a_number_that_is_no_message_id_is_a_stale_button(
    engine: DialogueEngine, forged: str
) -> None:
    await engine.handle(command("start"))
    await engine.handle(button("lang:en"))
    [reply] = await engine.handle(button(forged))
    assert "expired or isn't valid" in plain(reply)


async def test_no_message_text_is_stored(
    engine: DialogueEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await engine.handle(text("my boyfriend Otieno 0712345678 wants sex"))
    async with sessions() as session:
        rows = (await session.scalars(select(MessageDB))).all()
    assert rows
    dumped = " ".join(str(vars(r)) for r in rows)
    assert "Otieno" not in dumped and "0712345678" not in dumped


async def test_an_undecided_user_who_writes_kiswahili_keeps_getting_kiswahili(
    engine: DialogueEngine,
) -> None:
    [answer] = await engine.handle(text("nataka kupima ukimwi"))
    assert "Niambie zaidi" in labels(answer)
    [more] = await engine.handle(button("more:hiv_testing"))
    assert "Vyanzo" in more.text
    [menu] = await engine.handle(command("menu"))
    assert labels(menu) == MENU_SW


async def test_the_terminal_gets_plain_text_without_markup(engine: DialogueEngine) -> None:
    replies = await engine.handle(Inbound(USER, "cli", InboundKind.COMMAND, command="frobnicate"))
    assert replies[0].text == "I don't know that command."
    [answer] = await engine.handle(
        Inbound(USER, "cli", InboundKind.BUTTON, payload="ask:hiv_testing")
    )
    assert "<b>" not in answer.text and "&#" not in answer.text
    assert answer.text.startswith("GETTING TESTED FOR HIV")


@pytest.mark.postgres
async def test_a_conversation_on_postgres(
    postgres_url: str, parser: object, content: ContentStore
) -> None:
    from bot.db.migrate import upgrade
    from bot.db.session import create_engine, session_factory

    await upgrade(postgres_url)
    db = create_engine(postgres_url)
    try:
        sessions = session_factory(db)
        engine = make_engine(sessions, parser, content)  # type: ignore[arg-type]
        await choose(engine, "sw")
        [answer] = await engine.handle(text("nataka kupima ukimwi"))
        yes = next(p for p in payloads(answer) if p.startswith("fb:"))
        [thanks] = await engine.handle(button(yes))
        assert "Nafurahi" in plain(thanks)
        async with sessions() as session:
            user = await session.get(UserDB, USER)
            assert user is not None and user.language == "sw" and user.state == "answered"
            assert await session.scalar(select(func.count()).select_from(FeedbackDB)) == 1
    finally:
        await db.dispose()


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_the_engine_answers_every_intent_in_both_languages(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore, language: str
) -> None:
    from nlu.intents import ALL_INTENTS, TOPIC_INTENTS

    scripted = ScriptedParser(None)
    engine = make_engine(sessions, scripted, content)
    await choose(engine, language)
    answered = {}
    for intent in ALL_INTENTS:
        scripted.result = result(intent, 0.95, language=language)
        [reply] = await engine.handle(text(f"question number {len(answered)}"))
        answered[intent] = reply
        assert reply.buttons, intent
        assert "Did you mean" not in plain(reply) and "Ulimaanisha" not in plain(reply), intent
    for intent in TOPIC_INTENTS:
        item = content.topics[intent]
        assert item.title.get(language) in plain(answered[intent]), intent
    for intent, item in content.conversation.items():
        if intent == "find_service":  # asks which service (tests/dialogue/test_referral.py)
            assert "svc:hiv_testing" in payloads(answered[intent])
            continue
        if intent == "talk_to_counsellor":  # opens a case (tests/dialogue/test_counsellor.py)
            assert "1190" in plain(answered[intent])
            continue
        assert plain(answered[intent]).startswith(plain(Reply(item.answer.get(language)))[:20]), (
            intent
        )
