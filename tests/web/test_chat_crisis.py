"""The web chat puts safety first: the crisis check before every refusal, helplines on every
refusal, tap-to-call buttons on crisis answers, and a real quick exit."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from telegram import Bot

from bot.cases.repository import add_counsellor, set_duty
from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.db.models import CaseDB, UserDB
from bot.dialogue.addresses import web_address
from bot.dialogue.counsellor import Desk
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind, Reply
from bot.safety.availability import UNREACHABLE
from bot.safety.service import TWENTY_FOUR_HOURS
from bot.web import outbox
from bot.web.app import build_web_app
from bot.web.chat import (
    CHAT_COOKIE,
    CRISIS_SENDS_PER_MINUTE,
    MAX_BODY,
    SENDS_PER_MINUTE,
    message_text,
)
from tests.conftest import DESK_SETTINGS, SECRET
from tests.fakes.request import RecordingRequest
from tests.web.chat_client import Chat, client_of, english, text_of
from tests.web.conftest import EXIT_URL

CRISIS = "I want to kill myself"
ORDINARY = "how do i get tested for hiv"
Sessions = async_sessionmaker[AsyncSession]


def helplines(content: ContentStore, language: str = "en") -> list[dict[str, str]]:
    """The 24-hour lines as helplines.yml names them: Red Cross, GBV hotline, Childline."""
    lines = Renderer(content).helplines(language)
    return [{"label": lines[k]["name"], "number": lines[k]["number"]} for k in TWENTY_FOUR_HOURS]


def safety_answer(engine: DialogueEngine, text: str, language: str = "en") -> dict[str, Any]:
    """What a refused crisis must show: the static safety answer's helplines, no buttons."""
    answer = engine.safety.answer("html", language, engine.safety.check(text), UNREACHABLE)
    return {"calls": [{"label": c.label, "number": c.number} for c in answer.calls]}


async def count(sessions: Sessions, model: type[CaseDB] | type[UserDB]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# every refusal --------------------------------------------------------------------------------


async def without_a_cookie(app: Starlette, chat: Chat, text: str) -> httpx.Response:
    async with client_of(app) as stranger:
        headers = {"X-CSRF-Token": chat.csrf}
        return await stranger.post("/chat/send", json={"text": text}, headers=headers)


async def with_a_forged_csrf_token(_app: Starlette, chat: Chat, text: str) -> httpx.Response:
    return await chat.post({"text": text}, csrf="forged")


async def too_big(_app: Starlette, chat: Chat, text: str) -> httpx.Response:
    return await chat.post({"text": text + " " + "a" * MAX_BODY})


async def too_big_and_not_json(_app: Starlette, chat: Chat, text: str) -> httpx.Response:
    return await chat.post(text.encode() + b" " + b"\xf0\x9f\x98\x80" * MAX_BODY)


Refusal = Callable[[Starlette, Chat, str], Awaitable[httpx.Response]]
REFUSALS: list[tuple[Refusal, int, str]] = [
    (without_a_cookie, 403, "reload"),
    (with_a_forged_csrf_token, 403, "reload"),
    (too_big, 413, "too long"),
    (too_big_and_not_json, 413, "too long"),
]


@pytest.mark.parametrize(("refusal", "status", "says"), REFUSALS)
@pytest.mark.parametrize("text", [CRISIS, ORDINARY])
async def test_every_refusal_carries_the_helplines_and_a_crisis_gets_the_safety_answer(
    app: Starlette,
    chat: Chat,
    engine: DialogueEngine,
    content: ContentStore,
    sessions: Sessions,
    refusal: Refusal,
    status: int,
    says: str,
    text: str,
) -> None:
    users = await count(sessions, UserDB)
    response = await refusal(app, chat, text)
    assert response.status_code == status
    data = response.json()
    assert says in data["error"] and data["errors"]["sw"]
    assert data["calls"] == helplines(content)
    assert [c["number"] for c in data["calls"]] == ["1199", "1195", "116"]
    if text == CRISIS:
        [answer] = data["replies"]
        assert answer["calls"] == safety_answer(engine, text)["calls"] and answer["calls"]
        assert answer["buttons"] == []  # this page cannot send them
        assert '<a href="tel:1199">1199</a>' in answer["html"]
    else:
        assert data["replies"] == []
    # an unauthenticated or refused request opens no case and meets no one in the database
    assert await count(sessions, CaseDB) == 0
    assert await count(sessions, UserDB) == users


async def test_a_refused_crisis_in_kiswahili_is_answered_in_kiswahili(
    app: Starlette, chat: Chat, engine: DialogueEngine, content: ContentStore
) -> None:
    response = await without_a_cookie(app, chat, "nataka kujiua")
    assert response.status_code == 403
    data = response.json()
    assert data["calls"] == helplines(content, "sw")
    [answer] = data["replies"]
    assert answer["calls"] == safety_answer(engine, "nataka kujiua", "sw")["calls"]


async def test_sending_too_fast_still_gets_the_helplines(
    chat: Chat, content: ContentStore, sessions: Sessions
) -> None:
    for _ in range(SENDS_PER_MINUTE):
        assert (await chat.post({"command": "help"})).status_code == 200
    refused = await chat.post({"text": ORDINARY})
    assert refused.status_code == 429 and "wait a minute" in refused.json()["error"]
    assert refused.json()["calls"] == helplines(content) and refused.json()["replies"] == []
    assert await count(sessions, CaseDB) == 0


async def test_a_crisis_over_the_rate_limit_goes_through_the_whole_crisis_flow(
    chat: Chat, engine: DialogueEngine, sessions: Sessions
) -> None:
    await english(chat)
    for _ in range(SENDS_PER_MINUTE - 2):
        assert (await chat.post({"command": "help"})).status_code == 200
    assert (await chat.post({"text": ORDINARY})).status_code == 429

    data = await chat.send(text=CRISIS)  # answered by the engine, not refused

    assert data["replies"][0]["calls"] and "1199" in text_of(data)
    async with sessions() as session:
        [case] = list(await session.scalars(select(CaseDB)))
    assert case.priority == "urgent" and case.source == "crisis" and case.channel == "web"
    assert (await chat.post({"text": ORDINARY})).status_code == 429  # counted: still slowed


async def test_crisis_messages_past_a_second_limit_get_the_static_answer(
    chat: Chat, engine: DialogueEngine, content: ContentStore
) -> None:
    """A script that says "kill myself" in every message does not get past the limit for
    nothing: after CRISIS_SENDS_PER_MINUTE more, the answer needs no engine turn."""
    for _ in range(SENDS_PER_MINUTE):
        assert (await chat.post({"command": "help"})).status_code == 200
    for _ in range(CRISIS_SENDS_PER_MINUTE):
        assert (await chat.post({"text": CRISIS})).status_code == 200
    refused = await chat.post({"text": CRISIS})
    assert refused.status_code == 429
    assert refused.json()["calls"] == helplines(content)
    assert refused.json()["replies"][0]["calls"] == safety_answer(engine, CRISIS)["calls"]


@pytest.mark.parametrize("text", [CRISIS, ORDINARY])
async def test_without_an_engine_every_send_gets_the_helplines(
    sessions: Sessions, content: ContentStore, text: str
) -> None:
    desk = Desk(DESK_SETTINGS, Renderer(content))
    app = build_web_app(secret=SECRET, sessions=sessions, desk=desk, bot=None)
    async with client_of(app) as client:
        sent = await client.post("/chat/send", json={"text": text})
    assert sent.status_code == 503
    assert sent.json()["calls"] == helplines(content) and sent.json()["replies"] == []


async def test_a_refused_poll_carries_the_helplines(chat: Chat, content: ContentStore) -> None:
    polled = await chat.client.get("/chat/poll?after=0", headers={"X-CSRF-Token": "forged"})
    assert polled.status_code == 403 and polled.json()["calls"] == helplines(content)


# the body cap ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ascii_only", [True, False])
async def test_a_message_of_4096_emoji_fits(chat: Chat, ascii_only: bool) -> None:
    """The worst 4,096-character message: emoji escaped by an ASCII-only JSON encoder
    (12 bytes each), with the largest cursor; a browser sends it as UTF-8 (4 bytes each)."""
    body = json.dumps({"text": "😀" * 4096, "after": 2**31 - 1}, ensure_ascii=ascii_only).encode()
    assert len(body) == (49_185 if ascii_only else 16_417) and len(body) <= MAX_BODY
    response = await chat.post(body)
    assert response.status_code == 200, response.text[:200]


async def test_a_body_one_byte_over_the_cap_is_refused(chat: Chat) -> None:
    body = json.dumps({"text": ""}).encode()
    padded = body[:-2] + b"a" * (MAX_BODY + 1 - len(body)) + b'"}'
    assert len(padded) == MAX_BODY + 1
    assert (await chat.post(padded)).status_code == 413


@pytest.mark.parametrize(
    ("body", "whole", "text"),
    [
        (b'{"text": "I want to kill myself"}', True, "I want to kill myself"),
        (b'{"command": "start"}', True, ""),
        (b'{"text": 5}', True, ""),
        (b"[1, 2]", True, ""),
        (b"I want to kill myself", True, "I want to kill myself"),  # not JSON
        (b'{"after": 0, "text": "I want to \\u006bill mys', False, "I want to kill mys"),
        (b'{"text": "kill myself \\u00', False, "kill myself "),  # an escape cut in two
        (b'{"text": "kill myself \\', False, "kill myself "),
        (b'{"text": "kill myself \\ud83d', False, "kill myself \ufffd"),  # half an emoji
        (b'{"text": "kill myself \xf0\x9f\x98', False, "kill myself "),  # half a UTF-8 emoji
        (b'{"text": "a\\"b", "x": 1', False, 'a"b'),
        (b'{"text": "nul\\u0000here', False, "nulhere"),
    ],
)
def test_the_words_are_read_from_whatever_came(body: bytes, whole: bool, text: str) -> None:
    data = None
    if whole:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    assert message_text(body, data, whole=whole) == text


# replies -----------------------------------------------------------------------------------------


async def test_only_a_crisis_answer_carries_calls(chat: Chat) -> None:
    await english(chat)
    ordinary = await chat.send(text=ORDINARY)
    assert all(r["calls"] == [] for r in ordinary["replies"])
    crisis = await chat.send(text=CRISIS)
    calls = crisis["replies"][0]["calls"]
    assert calls and all(c["number"].isdigit() and c["label"] for c in calls)


async def test_the_page_knows_where_the_quick_exit_goes_and_the_helplines(
    chat: Chat, content: ContentStore
) -> None:
    page = await chat.open()
    assert f'data-exit="{EXIT_URL}"' in page.text
    found = page.text.split('data-calls="', 1)[1].split('"', 1)[0]
    calls = json.loads(found.replace("&#34;", '"').replace("&quot;", '"'))
    assert calls == {"en": helplines(content), "sw": helplines(content, "sw")}


# the quick exit ----------------------------------------------------------------------------------


async def test_the_quick_exit_marks_the_case_left_and_expires_the_cookie(
    app: Starlette, chat: Chat, sessions: Sessions
) -> None:
    await english(chat)
    await chat.send(text=CRISIS)
    token, identity = chat.token, chat.identity(SECRET)

    left = await chat.client.post("/chat/exit", headers={"X-CSRF-Token": chat.csrf})

    assert left.status_code == 200
    cookie = left.headers["set-cookie"]
    assert cookie.startswith(f'{CHAT_COOKIE}=""')
    assert all(p in cookie for p in ("Max-Age=0", "Path=/chat", "HttpOnly", "SameSite=lax"))
    assert chat.client.cookies.get(CHAT_COOKIE, path="/chat") is None
    async with sessions() as session:
        [case] = list(await session.scalars(select(CaseDB)))
    assert case.left_how == "quick_exit" and case.status != "closed"

    async with sessions() as session, session.begin():  # a counsellor writes afterwards
        later = Reply("Are you okay?", to=web_address(identity))
        await outbox.post(session=session, reply=later, secret=SECRET)
    await chat.open()  # the same phone opens the chat again: a new chat, nothing of the old
    assert chat.token != token
    assert (await chat.poll())["replies"] == []


async def test_a_quick_exit_tells_a_counsellor_on_telegram_in_a_live_chat(
    chat: Chat,
    engine: DialogueEngine,
    sessions: Sessions,
    telegram: tuple[Bot, RecordingRequest],
) -> None:
    async with sessions() as session, session.begin():
        staff = await add_counsellor(session=session, telegram_id=900003, name="Tele")
        await set_duty(session=session, counsellor_id=staff.id, on_duty=True)
    await english(chat)
    await chat.send(text=CRISIS)
    take = Inbound(
        "c" * 64, "telegram", InboundKind.COMMAND, command="next", address="telegram:900003"
    )
    await engine.handle(take)

    assert (await chat.client.post("/chat/exit", headers={"X-CSRF-Token": chat.csrf})).is_success

    told = telegram[1].sent()[-1]
    assert int(told["chat_id"]) == 900003 and "quick exit" in told["text"]


@pytest.mark.parametrize("csrf", [None, "", "stale"])
async def test_a_quick_exit_without_the_pages_csrf_token_changes_nothing(
    chat: Chat, sessions: Sessions, content: ContentStore, csrf: str | None
) -> None:
    await english(chat)
    await chat.send(text=CRISIS)
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    refused = await chat.client.post("/chat/exit", headers=headers)  # e.g. another site's form
    assert refused.status_code == 403 and refused.json()["calls"] == helplines(content)
    assert "set-cookie" not in refused.headers and chat.token
    async with sessions() as session:
        [case] = list(await session.scalars(select(CaseDB)))
    assert case.left_how is None  # only the chat's own page may mark its case


async def test_a_quick_exit_without_a_cookie_is_refused(app: Starlette, chat: Chat) -> None:
    async with client_of(app) as client:
        left = await client.post("/chat/exit", headers={"X-CSRF-Token": chat.csrf})
    assert left.status_code == 403 and "set-cookie" not in left.headers
