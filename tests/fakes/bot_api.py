"""A small Telegram Bot API emulator over HTTP, for end-to-end tests of the real bot process.

It speaks the subset the bot uses (getMe, getUpdates with long polling, sendMessage,
answerCallbackQuery, setMyCommands, setWebhook, deleteWebhook...), accepts python-telegram-bot's
form-encoded and JSON bodies, and lets a test push updates as a user and read what the bot sent.
In webhook mode a test posts updates to the bot the way Telegram does (`post_update`). `fail`
makes the next calls of a method answer 429 (with retry_after) or a 5xx, as Telegram can.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "HealthBot",
    "username": "healthbot_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


class BotApiEmulator:
    """Runs on 127.0.0.1 in a thread; `base_url` is what TELEGRAM_API_BASE_URL should be."""

    def __init__(self, token: str = "123456:TEST-TOKEN") -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1000
        self.webhook: dict[str, Any] = {}
        self._holds: list[tuple[str, Callable[[dict[str, Any]], bool], threading.Event]] = []
        self._release = threading.Event()
        self._faults: dict[str, list[tuple[int, int | None]]] = {}
        self._changed = threading.Condition()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The python-telegram-bot `base_url` (the token is appended to it)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/bot"

    def __enter__(self) -> BotApiEmulator:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # what a test does ---------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update (without update_id); returns the id it was given."""
        with self._changed:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **update})
            self._changed.notify_all()
        return update_id

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """Wait until `predicate(sent messages)` holds; raise AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.sent):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; the bot sent {len(self.sent)} message(s)")
                self._changed.wait(remaining)
            return list(self.sent)

    def fail(
        self, method: str, status: int, times: int = 1, retry_after: int | None = None
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (429 with `retry_after`)."""
        with self._changed:
            self._faults.setdefault(method, []).extend([(status, retry_after)] * times)

    def hold(
        self, method: str, when: Callable[[dict[str, Any]], bool] = lambda _params: True
    ) -> threading.Event:
        """Make the next call of `method` matching `when` hang, before it has any effect, until
        `release()`; the returned event is set once a call is held (a test then kills the bot).
        """
        held = threading.Event()
        with self._changed:
            self._release.clear()
            self._holds.append((method, when, held))
        return held

    def release(self) -> None:
        """Let held calls go on (their caller may be gone; the answer is then lost)."""
        self._release.set()

    def post_update(
        self, update: dict[str, Any], *, secret: str | None = None, url: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST one update (with its update_id) to the bot's webhook, as Telegram does.

        `secret` defaults to the one the bot registered; returns (status, JSON body).
        """
        target = url or self.webhook["url"]
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        request = urllib.request.Request(  # noqa: S310 - a local test URL
            target, data=json.dumps(update).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body or b"{}")
            except ValueError:
                return error.code, {}

    def methods(self) -> list[str]:
        """Names of the Bot API methods called so far."""
        with self._changed:
            return [name for name, _ in self.calls]

    # the API --------------------------------------------------------------------------

    def _call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        hold = self._take_hold(method, params)
        if hold is not None:
            hold.set()
            self._release.wait(timeout=120)
            return 503, {"ok": False, "error_code": 503, "description": "held"}
        with self._changed:
            self.calls.append((method, params))
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else None
        if fault is not None:
            status, retry_after = fault
            error: dict[str, Any] = {"ok": False, "error_code": status, "description": "fault"}
            if retry_after is not None:
                error["parameters"] = {"retry_after": retry_after}
                error["description"] = f"Too Many Requests: retry after {retry_after}"
            return status, error
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method"}
        result = handler(params)
        return 200, {"ok": True, "result": result}

    def _take_hold(self, method: str, params: dict[str, Any]) -> threading.Event | None:
        with self._changed:
            for index, (name, when, held) in enumerate(self._holds):
                if name == method and when(params):
                    del self._holds[index]
                    return held
        return None

    def _api_getMe(self, _params: dict[str, Any]) -> Any:
        return BOT_USER

    def _api_deleteWebhook(self, _params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = dict(params)
        return True

    def _api_setMyCommands(self, _params: dict[str, Any]) -> Any:
        return True

    def _api_answerCallbackQuery(self, _params: dict[str, Any]) -> Any:
        return True

    def _api_deleteMessages(self, _params: dict[str, Any]) -> Any:
        return True

    def _api_close(self, _params: dict[str, Any]) -> Any:
        return True

    def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 2.0)
        deadline = time.monotonic() + timeout
        with self._changed:
            # confirming an offset drops everything before it, as Telegram does
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self._updates[: int(params.get("limit") or 100)])

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        with self._changed:
            self._next_message_id += 1
            message = {
                "message_id": self._next_message_id,
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": params["text"],
            }
            self.sent.append({**params, "message_id": self._next_message_id})
            self._changed.notify_all()
        return message

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                prefix = f"/bot{emulator.token}/"
                if not self.path.startswith(prefix):
                    self._reply(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, payload = emulator._call(
                    self.path[len(prefix) :], _params(self.headers, body)
                )
                self._reply(status, payload)

            do_GET = do_POST

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """A client that went away (a bot killed or stopped mid-call) is not an error here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _params(headers: Any, body: str) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in (headers.get("Content-Type") or ""):
        parsed: dict[str, Any] = json.loads(body)
        return parsed
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        try:
            params[key] = json.loads(value) if value[:1] in "{[" else value
        except json.JSONDecodeError:
            params[key] = value
    return params
