"""The bot's Bot API client (aiohttp): what python-telegram-bot sends arrives whole, errors map."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot

from bot.app import build_application
from bot.config import Settings
from bot.telegram_http import AiohttpRequest
from tests.fakes.bot_api import BotApiEmulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as running:
        yield running


def _bot(emulator: BotApiEmulator, request: AiohttpRequest | None = None) -> ExtBot[None]:
    return ExtBot(emulator.token, base_url=emulator.base_url, request=request or AiohttpRequest())


async def test_messages_with_html_emoji_and_buttons_arrive_whole(
    emulator: BotApiEmulator,
) -> None:
    text = '<b>Karibu</b> 👋🏽 — & <i>"quotes"</i> {{ not a template }} 100% ✔'
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Ndiyo ✅", callback_data="lang:sw")]])
    async with _bot(emulator) as bot:
        me = await bot.get_me()
        sent = await bot.send_message(
            chat_id=42, text=text, parse_mode="HTML", reply_markup=buttons
        )
    assert me.username == "healthbot_test_bot"
    assert sent.text == text
    (call,) = emulator.sent
    assert str(call["chat_id"]) == "42"
    assert call["text"] == text
    assert call["parse_mode"] == "HTML"
    assert call["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "lang:sw"


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Serve one aiohttp handler for every Bot API method; yields a function giving base_url."""
    runners: list[web.AppRunner] = []

    async def serve(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/bot"

    yield serve
    for runner in runners:
        await runner.cleanup()


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


async def test_files_go_as_multipart_with_their_name_and_type(
    server: Callable[[Handler], Awaitable[str]],
) -> None:
    received: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        received["type"] = request.content_type
        if request.match_info["method"] == "getMe":
            return _ok({"id": 1, "is_bot": True, "first_name": "HealthBot", "username": "hb"})
        form = await request.post()
        upload = form["document"]
        assert isinstance(upload, web.FileField)
        received["file"] = (upload.filename, upload.content_type, upload.file.read())
        received["caption"] = form["caption"]
        return _ok(
            {
                "message_id": 5,
                "date": 1763877600,
                "chat": {"id": 42, "type": "private"},
                "document": {"file_id": "f", "file_unique_id": "u"},
            }
        )

    base_url = await server(handler)
    async with Bot("123:ABC", base_url=base_url, request=AiohttpRequest()) as bot:
        await bot.send_document(
            chat_id=42, document=b"%PDF-1.4 leaflet", filename="prep.pdf", caption="PrEP 💊"
        )
    assert received["type"] == "multipart/form-data"
    assert received["file"] == ("prep.pdf", "application/pdf", b"%PDF-1.4 leaflet")
    assert received["caption"] == "PrEP 💊"


async def test_a_slow_answer_is_a_timeout(server: Callable[[Handler], Awaitable[str]]) -> None:
    async def handler(_request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return _ok(True)

    base_url = await server(handler)
    request = AiohttpRequest(read_timeout=0.3)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(f"{base_url}123:ABC/getMe", "POST")
        # the timeout passed for one call wins over the default
        status, _body = await request.do_request(
            f"{base_url}123:ABC/getMe", "POST", read_timeout=5.0
        )
        assert status == 200
    finally:
        await request.shutdown()


async def test_an_unreachable_api_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match="aiohttp"):
            await request.do_request(f"http://127.0.0.1:{port}/bot123:ABC/getMe", "POST")
    finally:
        await request.shutdown()


async def test_it_must_be_initialised_and_shuts_down_twice_safely() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot1:A/getMe", "POST")
    await request.initialize()
    await request.initialize()
    await request.shutdown()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot1:A/getMe", "POST")


async def test_a_proxy_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like python-telegram-bot's httpx default: a host that reaches Telegram only through a
    proxy sets HTTPS_PROXY (here HTTP_PROXY, the API being plain HTTP) and nothing else."""
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readline())  # a proxy gets the absolute URL
        body = b'{"ok":true,"result":true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    request = AiohttpRequest()
    await request.initialize()
    try:
        status, body = await request.do_request("http://api.telegram.invalid/bot1:A/close", "POST")
    finally:
        await request.shutdown()
        server.close()
        await server.wait_closed()
    assert (status, body) == (200, b'{"ok":true,"result":true}')
    assert seen == [b"POST http://api.telegram.invalid/bot1:A/close HTTP/1.1\r\n"]


def test_the_bot_sends_through_aiohttp_by_default(settings: Settings) -> None:
    app = build_application(settings)
    assert isinstance(app.bot.request, AiohttpRequest)
