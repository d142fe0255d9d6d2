"""A fast Bot API emulator for the load benchmark (asyncio, keep-alive): counts what the bot sent.

`python -m bench.load.emulator PORT TOKEN` serves `/bot<TOKEN>/<method>` and `GET /stats`
(sendMessage calls per chat, answerCallbackQuery calls, other calls).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "HealthBot", "username": "bench_bot"}


def build(token: str) -> Starlette:
    """The emulator app for `token`."""
    sent: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    next_id = [1000]

    async def api(request: Request) -> Response:
        if request.path_params["token"] != token:
            return JSONResponse({"ok": False, "error_code": 401}, status_code=401)
        method = request.path_params["method"]
        calls[method] += 1
        params = await _params(request)
        if method == "getMe":
            return _ok(BOT_USER)
        if method == "sendMessage":
            chat = str(params.get("chat_id"))
            sent[chat] += 1
            next_id[0] += 1
            return _ok(
                {
                    "message_id": next_id[0],
                    "date": int(time.time()),
                    "chat": {"id": int(chat), "type": "private"},
                    "text": str(params.get("text", "")),
                }
            )
        return _ok(True)

    async def stats(_request: Request) -> Response:
        return JSONResponse({"sent": dict(sent), "calls": dict(calls)})

    async def reset(_request: Request) -> Response:
        sent.clear()
        calls.clear()
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/stats", stats),
            Route("/reset", reset, methods=["POST"]),
            Route("/bot{token}/{method}", api, methods=["GET", "POST"]),
        ]
    )


async def _params(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    if "json" in request.headers.get("content-type", ""):
        import json

        parsed: dict[str, Any] = json.loads(body)
        return parsed
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _ok(result: Any) -> Response:
    return JSONResponse({"ok": True, "result": result})


if __name__ == "__main__":
    port, token = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(build(token), host="127.0.0.1", port=port, log_level="warning", access_log=False)
