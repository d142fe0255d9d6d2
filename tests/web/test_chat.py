"""The web chat at /chat: identity, CSRF, limits, the engine's flows, the outbox, the sanitiser."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from telegram import Bot

from bot.cases.repository import add_counsellor, set_duty
from bot.cases.seal import unseal
from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.db.models import CaseDB, WebOutboxDB, utcnow
from bot.dialogue.addresses import web_address, web_token
from bot.dialogue.counsellor import Desk
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Button, Inbound, InboundKind, Reply
from bot.web import chat_session, outbox
from bot.web.accounts import add_user
from bot.web.app import build_web_app
from bot.web.chat import CHAT_COOKIE, MAX_BODY, SENDS_PER_MINUTE, csrf_for
from bot.web.sanitise import sanitise, tel_links
from handlers.messages import deliver
from tests.conftest import DESK_SETTINGS, SECRET
from tests.fakes.request import RecordingRequest
from tests.web.chat_client import Chat, client_of, english, payloads_of, text_of

PAGE_LIMIT = 100 * 1024
PASSWORD = "correct horse battery"
NAIROBI = {"latitude": -1.2921, "longitude": 36.8219}


async def console_csrf(client: httpx.AsyncClient, page: str) -> str:
    """The staff console's CSRF token from one of its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(page)).text)
    assert found, page
    return found.group(1)


# identity and the page --------------------------------------------------------------------------


async def test_first_load_sets_the_chat_cookie_and_weighs_under_100_kb(app: Starlette) -> None:
    async with client_of(app) as client:
        page = await client.get("/chat")
        assert page.status_code == 200
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(f"{CHAT_COOKIE}=")
        assert all(part in cookie for part in ("HttpOnly", "Path=/chat", "SameSite=lax"))
        assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # a session cookie
        assert "Secure" not in cookie and "healthbot_session" not in cookie
        token = client.cookies.get(CHAT_COOKIE, path="/chat")
        chat = chat_session.read(SECRET, token)
        assert chat is not None and token.startswith(chat.identity + ".")
        assert csrf_for(SECRET, chat.identity) in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]

        [src] = re.findall(r'<script src="([^"]+)"', page.text)
        assert src.startswith("/chat/app.js?v=")
        resources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert set(resources) == {src, "data:,"}  # nothing else to fetch: no CDN, no images
        script = await client.get(src)
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        first_load = len(page.content) + len(script.content)
        assert first_load <= PAGE_LIMIT, first_load

        again = await client.get("/chat")
        renewed = chat_session.read(SECRET, client.cookies.get(CHAT_COOKIE, path="/chat"))
        assert renewed is not None and renewed.identity == chat.identity  # same chat next time
        assert again.status_code == 200


async def test_the_cookie_is_secure_over_https(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore, engine: DialogueEngine
) -> None:
    desk = Desk(DESK_SETTINGS, Renderer(content))
    app = build_web_app(
        secret=SECRET, sessions=sessions, desk=desk, bot=None, dialogue=engine, https_only=True
    )
    async with client_of(app) as client:
        page = await client.get("/chat")
        assert "Secure" in page.headers["set-cookie"]


async def test_without_an_engine_the_chat_says_kindly_it_is_resting(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> None:
    desk = Desk(DESK_SETTINGS, Renderer(content))
    app = build_web_app(secret=SECRET, sessions=sessions, desk=desk, bot=None)
    async with client_of(app) as client:
        page = await client.get("/chat")
        assert page.status_code == 503
        assert "short break" in page.text and "1190" in page.text
        for number in ("1199", "1195", "116"):  # the 24-hour lines, as buttons
            assert f'class="call" href="tel:{number}"' in page.text
        sent = await client.post("/chat/send", json={"text": "hi"})
        assert sent.status_code == 503 and "1190" in sent.json()["error"]
        assert [c["number"] for c in sent.json()["calls"]] == ["1199", "1195", "116"]


async def test_the_page_speaks_the_language_the_chat_chose(chat: Chat) -> None:
    await chat.send(command="start")
    await chat.send(payload="lang:sw")
    page = await chat.open()
    assert '<html lang="sw">' in page.text and "Andika swali lako" in page.text
    assert "<title>Gumzo</title>" in page.text


async def test_the_title_names_no_topic(chat: Chat) -> None:
    """The title is what the browser's history keeps: "Chat", never health or a topic."""
    page = await chat.open()
    assert "<title>Chat</title>" in page.text
    title_words = re.findall(r'"chat_title": "([^"]*)"', html.unescape(page.text))
    assert sorted(title_words) == ["Chat", "Gumzo"]


# the conversation ---------------------------------------------------------------------------------


async def test_start_offers_english_and_kiswahili(chat: Chat) -> None:
    data = await chat.send(command="start")
    assert payloads_of(data) == ["lang:en", "lang:sw"]
    assert "Which language do you prefer?" in text_of(data)
    assert data["clear"] is False and "renewed" not in data


async def test_a_question_gets_an_answer_with_buttons(chat: Chat) -> None:
    await english(chat)
    data = await chat.send(text="how do i get tested for hiv")
    assert "Getting tested for HIV" in text_of(data)
    sent = payloads_of(data)
    assert sent[0].startswith("fb:") and sent[-1] == "menu"
    assert data["replies"][-1]["html"].startswith("<b>")  # Telegram's bold, kept


async def test_a_button_payload_works(chat: Chat) -> None:
    await english(chat)
    data = await chat.send(payload="ask:hiv_testing")
    assert "Getting tested for HIV" in text_of(data)
    menu = await chat.send(payload="menu")
    assert "Pick a topic" in text_of(menu) and len(payloads_of(menu)) > 4


@pytest.mark.parametrize("forged", ["ask:no_such_thing", "nonsense", "fb:1:9", "x" * 300])
async def test_a_forged_or_stale_button_gets_a_kind_reply(chat: Chat, forged: str) -> None:
    await english(chat)
    data = await chat.send(payload=forged)
    assert "That button has expired" in text_of(data)


async def test_a_typed_command_is_a_command(chat: Chat) -> None:
    await english(chat)
    data = await chat.send(text="/language")
    assert payloads_of(data) == ["lang:en", "lang:sw"]


async def test_a_crisis_gets_the_helplines_and_opens_an_urgent_case(
    chat: Chat,
    sessions: async_sessionmaker[AsyncSession],
    telegram: tuple[Bot, RecordingRequest],
) -> None:
    async with sessions() as session, session.begin():
        staff = await add_counsellor(session=session, telegram_id=900001, name="Tele")
        await set_duty(session=session, counsellor_id=staff.id, on_duty=True)
    await english(chat)
    data = await chat.send(text="I want to kill myself")
    said = text_of(data)
    assert "1199" in said and "1190" in said  # Red Cross and one2one, from helplines.yml
    assert '<a href="tel:1199">1199</a>' in data["replies"][0]["html"]  # tap to call
    calls = data["replies"][0]["calls"]  # big buttons at the top of the answer
    assert calls and calls[0] == {"label": "Kenya Red Cross counselling line", "number": "1199"}
    async with sessions() as session:
        [case] = list(await session.scalars(select(CaseDB)))
    assert case.priority == "urgent" and case.source == "crisis" and case.channel == "web"
    assert unseal(SECRET, case.route or "") == web_address(chat.identity(SECRET))
    alert = telegram[1].sent()[-1]  # the counsellor on Telegram was alerted, not the page
    assert int(alert["chat_id"]) == 900001 and "URGENT" in alert["text"]
    assert "URGENT" not in said


async def test_a_counsellors_reply_reaches_only_that_chat(
    app: Starlette, chat: Chat, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await add_user(session=session, username="amina", password=PASSWORD, role="counsellor")
    await english(chat)
    await chat.send(payload="ask:talk_to_counsellor")
    async with client_of(app) as staff, client_of(app) as other_browser:
        credentials = {"username": "amina", "password": PASSWORD}
        credentials["csrf_token"] = await console_csrf(staff, "/login")
        assert (await staff.post("/login", data=credentials)).status_code == 303
        token = await console_csrf(staff, "/inbox")
        await staff.post("/cases/1/claim", data={"csrf_token": token})
        said = {"csrf_token": token, "text": "Hi, I'm here. <b>What</b> happened?"}
        assert (await staff.post("/cases/1/reply", data=said)).status_code == 303

        first = await chat.poll()
        words = text_of(first)
        assert "A counsellor has joined" in words and "Hi, I'm here. <b>What</b> happened?" in words
        assert "&lt;b&gt;" in first["replies"][-1]["html"]  # their words stay words
        ids = [r["id"] for r in first["replies"]]
        assert all(isinstance(i, int) for i in ids)
        assert [r["id"] for r in (await chat.poll())["replies"]] == ids  # not acknowledged yet

        other = Chat(other_browser)
        await other.open()
        assert (await other.poll())["replies"] == []

        assert (await chat.poll(ids))["replies"] == []
        async with sessions() as session:
            assert list(await session.scalars(select(WebOutboxDB))) == []  # seen: deleted

        await chat.send(text="my boyfriend hit me")  # relayed to the counsellor, not answered
        transcript = await staff.get("/cases/1/messages")
        assert "my boyfriend hit me" in transcript.text


async def test_a_telegram_counsellors_reply_reaches_the_web_chat(
    chat: Chat,
    engine: DialogueEngine,
    sessions: async_sessionmaker[AsyncSession],
    telegram: tuple[Bot, RecordingRequest],
) -> None:
    async with sessions() as session, session.begin():
        staff = await add_counsellor(session=session, telegram_id=900002, name="Tele")
        await set_duty(session=session, counsellor_id=staff.id, on_duty=True)
    await english(chat)
    await chat.send(payload="ask:talk_to_counsellor")
    web = outbox.writer(sessions, SECRET)
    for command, text in (("next", ""), ("", "Hello from Telegram")):
        said = Inbound(
            "c" * 64,
            "telegram",
            InboundKind.TEXT if text else InboundKind.COMMAND,
            text=text,
            command=command,
            address="telegram:900002",
        )
        for reply in await engine.handle(said):
            if reply.to:
                await deliver(telegram[0], reply, outbox=web)
    words = text_of(await chat.poll())
    assert "A counsellor has joined" in words and "Hello from Telegram" in words


async def test_replies_for_a_web_chat_without_an_outbox_are_dropped_not_raised(
    telegram: tuple[Bot, RecordingRequest],
) -> None:
    await deliver(telegram[0], Reply("hi", to=web_address("t" * 43)))
    assert telegram[1].sent() == []


async def test_exit_clears_the_page_and_expires_the_cookie(chat: Chat) -> None:
    await english(chat)
    assert (await chat.send(text="hello"))["clear"] is False
    for body in ({"command": "exit"}, {"text": "/exit"}, {"text": "toka"}):
        await chat.open()  # the page again, with a new chat
        response = await chat.post(body)
        assert response.status_code == 200
        data = response.json()
        assert data["clear"] is True and "Weather today" in text_of(data)
        assert 'healthbot_chat=""' in response.headers["set-cookie"]
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert chat.client.cookies.get(CHAT_COOKIE, path="/chat") is None


async def test_a_shared_location_finds_facilities(chat: Chat) -> None:
    await english(chat)
    where = await chat.send(payload="svc:hiv_testing")
    assert "Share my location" in where["replies"][-1]["location"]
    found = await chat.send(**NAIROBI)
    assert "km away" in text_of(found)


async def test_a_location_first_asks_which_service(chat: Chat) -> None:
    await english(chat)
    data = await chat.send(**NAIROBI)
    assert any(p.startswith("svc:hiv_testing:") for p in payloads_of(data))


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"",
        {"photo": "data:image/png;base64,AAAA"},
        [1, 2, 3],
        {"text": 5},
        {"text": "   "},
        {"latitude": "-1.29", "longitude": "36.8"},
        {"latitude": 1000, "longitude": 0},
        {"latitude": True, "longitude": False},
        {"payload": {"nested": 1}},
        b"[" * 4000,
    ],
)
async def test_photos_and_garbage_get_a_kind_reply(chat: Chat, body: Any) -> None:
    await english(chat)
    response = await chat.post(body)
    assert response.status_code == 200
    assert "I can only read text" in text_of(response.json())


# limits and CSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("csrf", ["", "forged", csrf_for(SECRET, "a" * 43), csrf_for("x", "y")])
async def test_a_missing_or_wrong_csrf_token_is_refused(chat: Chat, csrf: str) -> None:
    assert (await chat.post({"text": "hi"}, csrf=csrf)).status_code == 403
    polled = await chat.client.get("/chat/poll?after=0", headers={"X-CSRF-Token": csrf})
    assert polled.status_code == 403
    assert "reload" in polled.json()["error"]


async def test_without_the_cookie_nothing_is_sent(app: Starlette, chat: Chat) -> None:
    async with client_of(app) as stranger:
        sent = await stranger.post(
            "/chat/send", json={"text": "hi"}, headers={"X-CSRF-Token": chat.csrf}
        )
        assert sent.status_code == 403


async def test_an_oversized_body_is_refused(chat: Chat) -> None:
    response = await chat.post({"text": "a" * (MAX_BODY + 10)})
    assert response.status_code == 413 and "too long" in response.json()["error"]
    assert [c["number"] for c in response.json()["calls"]] == ["1199", "1195", "116"]
    assert (await chat.post({"text": "a" * 7000})).status_code == 200  # MAX_TEXT applies later


async def test_sending_too_fast_is_slowed_down_kindly(app: Starlette, chat: Chat) -> None:
    for _ in range(SENDS_PER_MINUTE):
        assert (await chat.post({"command": "help"})).status_code == 200
    refused = await chat.post({"command": "help"})
    assert refused.status_code == 429
    assert "wait a minute" in refused.json()["error"]
    assert "subiri" in refused.json()["errors"]["sw"]
    async with client_of(app) as client:  # another chat is not slowed down
        other = Chat(client)
        await other.open()
        assert (await other.post({"command": "help"})).status_code == 200


# the outbox ---------------------------------------------------------------------------------------


async def test_the_outbox_keeps_a_hash_not_the_token_and_forgets_after_a_day(
    chat: Chat, sessions: async_sessionmaker[AsyncSession]
) -> None:
    to = web_address(chat.identity(SECRET))
    async with sessions() as session, session.begin():
        session.add(
            WebOutboxDB(
                address="old", text="x", buttons=[], created_at=utcnow() - timedelta(days=2)
            )
        )
        reply = Reply("Rate <i>this</i>", ((Button("5", "rate:1:5"),),), to=to)
        await outbox.post(session=session, reply=reply, secret=SECRET)
    async with sessions() as session:
        [row] = list(await session.scalars(select(WebOutboxDB)))
    assert chat.identity(SECRET) not in row.address and row.address == outbox.outbox_key(SECRET, to)
    data = await chat.poll()
    assert data["replies"] == [
        {
            "id": row.id,
            "html": "Rate <i>this</i>",
            "buttons": [[{"label": "5", "payload": "rate:1:5"}]],
            "location": "",
            "calls": [],
        }
    ]
    with pytest.raises(ValueError):
        async with sessions() as session:
            await outbox.post(session=session, reply=Reply("x", to="telegram:1"), secret=SECRET)


def test_web_addresses_round_trip() -> None:
    assert web_token(web_address("abc")) == "abc"
    assert web_token("telegram:12") is None and web_token("web:") is None


# the sanitiser ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<b>bold</b> &amp; <i>it</i>", "<b>bold</b> &amp; <i>it</i>"),
        ("<script>alert(1)</script>hi", "hi"),
        ('<img src=x onerror="alert(1)">ok', "ok"),
        ('<b onclick="alert(1)">x</b>', "<b>x</b>"),
        ('<a href="javascript:alert(1)">x</a>', "x"),
        ('<a href=" JaVa&#x09;script:alert(1)">x</a>', "x"),
        ('<a href="data:text/html,x">x</a>', "x"),
        (
            '<a href="https://nascop.or.ke/?a=1&amp;b=2" onmouseover="x">NASCOP</a>',
            '<a href="https://nascop.or.ke/?a=1&amp;b=2" rel="noopener noreferrer"'
            ' target="_blank">NASCOP</a>',
        ),
        (
            '<a href="tel:1190">1190</a>',
            '<a href="tel:1190" rel="noopener noreferrer" target="_blank">1190</a>',
        ),
        ("<b><i>open", "<b><i>open</i></b>"),
        ("</b>stray", "stray"),
        ("<strong>s</strong><em>e</em>", "<b>s</b><i>e</i>"),
        ("&lt;script&gt;", "&lt;script&gt;"),
        ("<style>body{}</style><iframe src=x></iframe>t", "t"),
        ('<div style="x"><p>para</p></div>', "para"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("<!-- note -->text", "text"),
    ],
)
def test_the_sanitiser_keeps_only_telegrams_tags(dirty: str, clean: str) -> None:
    assert sanitise(dirty) == clean


@pytest.mark.parametrize(
    ("markup", "linked"),
    [
        ("call 999 or 112.", 'call <a href="tel:999">999</a> or <a href="tel:112">112</a>.'),
        ("<b>1199</b>, free", '<b><a href="tel:1199">1199</a></b>, free'),
        ("112.0 km away", "112.0 km away"),
        ("reviewed 2026-11-23; 11900; 3,116", "reviewed 2026-11-23; 11900; 3,116"),
        ('<a href="https://x.ke/1199">1199</a>', '<a href="https://x.ke/1199">1199</a>'),
    ],
)
def test_helpline_numbers_become_tap_to_call(markup: str, linked: str) -> None:
    assert tel_links(markup, ["1199", "999", "112", "116"]) == linked
