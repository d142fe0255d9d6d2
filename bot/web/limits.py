"""A limit on the size of every request body, counted as it streams in.

Starlette refuses one form field over 1 MiB, but not a body of many such fields: without a limit
on the whole body, one anonymous POST could make the console hold up to 1000 MiB before its CSRF
check even ran. The middleware counts the bytes the application reads (Content-Length may be
absent or lie) and hands it no more than the limit: reading past it ends the request with 413.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The biggest legitimate form is a content edit: 13 fields of which the console keeps 20,000
# characters each, and real ones are a few KB. The limit sits above Starlette's 1 MiB for one
# field, so that one oversized field is still refused by Starlette itself (400) within it.
MAX_BODY_BYTES = 1536 * 1024


class BodyTooLarge(Exception):
    """The application tried to read past the body limit."""


class BodyLimit:
    """Pure-ASGI middleware: 413 once an HTTP request's body passes `limit` bytes."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        read = 0
        over = started = refused = False

        async def limited_receive() -> Message:
            nonlocal read, over, refused
            if over:
                if not started:  # answer now, whatever the app does with the error below
                    refused = True
                    await PlainTextResponse("Request body too large.", 413)(scope, receive, send)
                raise BodyTooLarge
            message = await receive()
            if message["type"] != "http.request":
                return message
            body: bytes = message.get("body", b"")
            read += len(body)
            if read <= self.limit:
                return message
            # Hand over what fits, and say more follows: the next read is refused.
            over = True
            fits = len(body) - (read - self.limit)
            return {"type": "http.request", "body": body[:fits], "more_body": True}

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 went out: an error page the app makes of it does not
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if not refused:
                raise
