"""Security headers on every response of the web app, errors and redirects included.

Console pages show transcripts and drafts, often on shared computers: nothing is cached
(`Cache-Control: no-store`), no page may be framed, no address leaks in a Referer, and a strict
Content-Security-Policy allows only the app's own inline scripts (by hash). A response that sets
one of these headers itself (the web chat, its script, the content pages' stricter policy) keeps
its own value.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(templates: Path) -> list[str]:
    """The CSP source of every inline `<script>` in the templates (`'sha256-…'`)."""
    found = {
        body
        for template in sorted(templates.glob("*.html"))
        for body in _INLINE_SCRIPT.findall(template.read_text(encoding="utf-8"))
    }
    digests = (hashlib.sha256(body.encode("utf-8")).digest() for body in sorted(found))
    return [f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests]


def console_headers(templates: Path) -> dict[str, str]:
    """The headers every response gets unless it sets its own."""
    scripts = " ".join(["'self'", *script_hashes(templates)])
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
            "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


class SecurityHeaders:
    """Pure-ASGI middleware: add `headers` to every HTTP response that does not set them."""

    def __init__(self, app: ASGIApp, *, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
