"""A young person's browser on the web chat, for the HTTP tests: cookie, CSRF token, JSON calls."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from starlette.applications import Starlette

from bot.web import chat_session
from bot.web.chat import CHAT_COOKIE


def client_of(app: Starlette, scheme: str = "http") -> httpx.AsyncClient:
    """An in-process HTTP client of the app."""
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver")


class Chat:
    """One young person's browser: the chat cookie, the page's CSRF token, JSON calls."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def open(self) -> httpx.Response:
        page = await self.client.get("/chat")
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        assert found, page.text[:300]
        self.csrf = found.group(1)
        return page

    @property
    def token(self) -> str:
        """The cookie's value (the signed token)."""
        value = self.client.cookies.get(CHAT_COOKIE, path="/chat")
        assert value
        return value

    def identity(self, secret: str) -> str:
        """The chat's identity (its address is `web:<identity>`)."""
        chat = chat_session.read(secret, self.token)
        assert chat is not None
        return chat.identity

    async def post(self, body: Any, *, csrf: str | None = None) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        if isinstance(body, bytes):
            return await self.client.post("/chat/send", content=body, headers=headers)
        return await self.client.post("/chat/send", json=body, headers=headers)

    async def send(self, **body: Any) -> dict[str, Any]:
        response = await self.post(body)
        assert response.status_code == 200, response.text[:300]
        data: dict[str, Any] = response.json()
        return data

    async def poll(self, ack: list[int] | None = None) -> dict[str, Any]:
        """Poll, acknowledging the outbox ids in `ack` (as the page does with what it showed)."""
        shown = ",".join(str(i) for i in ack or [])
        response = await self.client.get(
            f"/chat/poll?ack={shown}", headers={"X-CSRF-Token": self.csrf}
        )
        assert response.status_code == 200, response.text[:300]
        data: dict[str, Any] = response.json()
        return data


async def english(chat: Chat) -> dict[str, Any]:
    """Start the chat and choose English."""
    await chat.send(command="start")
    return await chat.send(payload="lang:en")


def text_of(data: dict[str, Any]) -> str:
    """Every reply's words, as the young person reads them."""
    return "\n".join(html.unescape(re.sub(r"<[^>]+>", "", r["html"])) for r in data["replies"])


def payloads_of(data: dict[str, Any]) -> list[str]:
    """Every reply's button payloads."""
    return [b["payload"] for r in data["replies"] for row in r["buttons"] for b in row]
