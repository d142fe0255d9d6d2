"""Hostile requests to the web app: oversized bodies, template tricks, SQL-looking text, forged
web chat tokens and session cookies, absurd ids. None may crash the app (500), change anyone
else's rows, or show what is not theirs.

Uses the seeded database and signed-in sessions of `test_authorisation_matrix`.
"""

from __future__ import annotations

import json
import os
import re
import resource
import secrets
import subprocess
import sys
import textwrap
import time
from base64 import b64encode
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import itsdangerous
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot import paths
from bot.content import revisions
from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.db.migrate import upgrade
from bot.db.models import CaseDB, WebOutboxDB, WebUserDB
from bot.db.session import create_engine, session_factory
from bot.dialogue.counsellor import Desk
from bot.web.accounts import add_user
from bot.web.app import build_web_app
from bot.web.chat import CHAT_COOKIE, csrf_for
from bot.web.chat_session import sign
from bot.web.security import SESSION_COOKIE, session_key
from bot.web.throttle import LoginThrottle
from nlu.embedded import EmbeddedParser
from tests.conftest import DESK_SETTINGS, SECRET
from tests.web.test_authorisation_matrix import (
    CHAT_TOKENS,
    ITEM,
    MY_CASE,
    OTHERS_CASE,
    PASSWORD,
    Seeded,
    chat_csrf,
    connect,
    form_csrf,
    own_copy,
    row_counts,
    seeded_database,
    signed_in_as,
    whole_app,
)

MB = 1024 * 1024
HUGE = "9" * 30  # no integer column holds it
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path, content: ContentStore
) -> Seeded:
    return seeded_database(tmp_path_factory, migrated_sqlite, content)


@pytest.fixture
def sqlite_url(tmp_path: Path, seeded: Seeded) -> str:
    return own_copy(seeded, tmp_path)


@pytest.fixture
async def app(sessions: Sessions, content: ContentStore, parser: EmbeddedParser) -> Starlette:
    # Some tests here try many logins from one address; the throttle has its own tests.
    return await whole_app(sessions, content, parser, LoginThrottle(per_address=1000))


@pytest.fixture
async def browsers(app: Starlette, seeded: Seeded) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A browser per role; a crash comes back as a 500 instead of raising in the test."""
    roles = ("anonymous", "counsellor", "editor", "reviewer", "admin")
    opened = {r: signed_in_as(app, seeded, r, raise_app_exceptions=False) for r in roles}
    yield opened
    for client in opened.values():
        await client.aclose()


def others_rows(counts: dict[str, int]) -> dict[str, int]:
    """Row counts of the tables a web chat turn or a failed login never adds to."""
    own = {"users", "messages", "channel_messages", "unanswered", "audit_log", "web_outbox"}
    return {table: n for table, n in counts.items() if table not in own}


async def case_rows(sessions: Sessions) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        rows = await session.scalars(select(CaseDB).order_by(CaseDB.id))
        return [(c.id, c.status, c.counsellor_id, c.resolution, c.rating, c.route) for c in rows]


async def web_users(sessions: Sessions) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        rows = await session.scalars(select(WebUserDB).order_by(WebUserDB.id))
        return [(u.id, u.username, u.role, u.password_hash, u.failed_logins) for u in rows]


# oversized bodies -------------------------------------------------------------------------------


async def test_a_2_mb_field_is_refused_with_400_on_every_form(
    browsers: dict[str, httpx.AsyncClient], seeded: Seeded, sessions: Sessions
) -> None:
    """Starlette refuses a form field over 1 MB (400) before anything reads it."""
    before = await row_counts(sessions)
    big = "x" * (2 * MB)
    for role, path, field in (
        ("anonymous", "/login", "username"),
        ("anonymous", "/login", "password"),
        ("editor", f"/content/{ITEM}/edit", "answer.en"),
        ("counsellor", f"/cases/{MY_CASE}/reply", "text"),
    ):
        data = {"csrf_token": seeded.csrf[role], "action": "save", field: big}
        response = await browsers[role].post(path, data=data)
        assert response.status_code == 400, (path, field, response.status_code)
    assert await row_counts(sessions) == before


async def test_a_2_mb_web_chat_message_is_refused_with_413(
    browsers: dict[str, httpx.AsyncClient], sessions: Sessions
) -> None:
    chat = browsers["anonymous"]
    token = await chat_csrf(chat)
    before = await row_counts(sessions)
    body = json.dumps({"text": "x" * (2 * MB)}).encode()
    response = await chat.post("/chat/send", content=body, headers={"X-CSRF-Token": token})
    assert response.status_code == 413
    streamed = await chat.post(
        "/chat/send", content=_chunks(body, 64 * 1024), headers={"X-CSRF-Token": token}
    )
    assert streamed.status_code == 413, "no Content-Length: still cut off at the chat's limit"
    assert await row_counts(sessions) == before


class Counting:
    """A request body of `total` bytes in 64 KB chunks, counting what the server reads."""

    def __init__(self, total: int, *, form: bool = True) -> None:
        self.total, self.form, self.sent = total, form, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = 64 * 1024
        field = 0
        while self.sent < self.total:
            # urlencoded fields of 512 KB each: none alone is over Starlette's 1 MB field limit
            head = f"&f{field}=".encode() if self.form and self.sent % (512 * 1024) == 0 else b""
            field += 1 if head else 0
            part = head + b"x" * (chunk - len(head))
            self.sent += len(part)
            yield part


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("anonymous", "/login"),
        ("anonymous", "/logout"),
        ("editor", f"/content/{ITEM}/edit"),
        ("counsellor", f"/cases/{MY_CASE}/reply"),
        ("anonymous", "/chat/send"),
    ],
)
async def test_a_32_mb_body_is_refused_without_reading_it_all(
    browsers: dict[str, httpx.AsyncClient], role: str, path: str
) -> None:
    """A body far bigger than any form is refused after at most 2 MB is read (the chat's limit
    is 64 KB). Sent without Content-Length, in fields that are each under Starlette's 1 MB field
    limit: only a limit on the whole body stops it. Otherwise one anonymous POST holds up to
    1000 fields x 1 MB in memory before the CSRF check even runs."""
    client = browsers[role]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if path == "/chat/send":
        headers = {"X-CSRF-Token": await chat_csrf(client), "Content-Type": "application/json"}
    body = Counting(32 * MB, form=path != "/chat/send")

    response = await client.post(path, content=body, headers=headers)

    read = f"{response.status_code} after reading {body.sent / MB:.0f} MB of a 32 MB body"
    assert response.status_code in (400, 413) and body.sent <= 2 * MB, read


# template syntax in an editor's text --------------------------------------------------------------

TEMPLATE_TRICKS = (
    "{{ config }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ request.app.state }}",
    "{{ helplines.__class__.__base__.__subclasses__() }}",
    "{% for x in range(10**9) %}x{% endfor %}",
    "{% for x in range(1000000000) %}x{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{% include '/etc/passwd' %}",
    "{% extends 'base.html' %}",
    "{% import 'os' as os %}",
    "{{ range.__globals__ }}",
    "{% set x = namespace() %}{{ x.__dict__ }}",
    "{{ '%s' % 'a' * 9999 }}",
    "{% raw %}{{ config }}{% endraw %}",
    "{{ ",
)
LEAKS = (SECRET, "root:x:0:0", "<class 'object'>", "subprocess", "uid=", "environ(")


@pytest.mark.parametrize("trick", TEMPLATE_TRICKS)
async def test_template_tricks_in_an_answer_are_refused_never_evaluated_never_a_500(
    browsers: dict[str, httpx.AsyncClient], seeded: Seeded, sessions: Sessions, trick: str
) -> None:
    editor = browsers["editor"]
    async with sessions() as session:
        before = len(await revisions.history(session, ITEM))
    answer = f"PrEP is a daily pill. {trick}"
    for action in ("preview", "save", "submit"):
        data = {"csrf_token": seeded.csrf["editor"], "action": action, "answer.en": answer}
        response = await editor.post(f"/content/{ITEM}/edit", data=data)
        assert response.status_code in (200, 400), (action, response.status_code)
        for leak in LEAKS:
            assert leak not in response.text, (action, leak)
    async with sessions() as session:
        assert len(await revisions.history(session, ITEM)) == before, "nothing is saved"


SANDBOX_BOMBS = {
    "control: a long repeat (refused today)": "{{ 'x' * 100000000 }}",
    "nested loops (10^10 turns)": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    ),
    "a repeat of a repeat (1 GB)": "{{ ('x' * 1000) * 1000 * 1000 }}",
    "str.ljust (1 GB)": "{{ 'x'.ljust(1000000000) }}",
    "the center filter (1 GB)": "{{ 'x' | center(1000000000) }}",
    "a format width (1 GB)": "{{ '{:>1000000000}'.format('x') }}",
    "lipsum (10^6 paragraphs)": "{{ lipsum(1000000) }}",
}


@pytest.mark.parametrize("source", SANDBOX_BOMBS.values(), ids=SANDBOX_BOMBS.keys())
def test_editors_text_cannot_spend_unbounded_time_or_memory(source: str) -> None:
    """The sandbox the previews and the bot render editors' text in must refuse what would take
    minutes of CPU or gigabytes of memory. Rendered in a child process with 10 s and 512 MB, so
    a sandbox that does not refuse fails this test instead of stalling the suite. (The console
    renders previews in its event loop: one such preview would stall every page and the web
    chat of that process.)"""
    script = textwrap.dedent(
        """
        import sys
        from bot import paths
        from bot.content.render import Renderer
        from bot.content.store import load_content
        renderer = Renderer(load_content(paths.CONTENT_DIR))
        try:
            text = renderer.text(sys.stdin.read(), "en")
        except MemoryError:
            print("MemoryError")
        except Exception as exc:
            print("refused:", type(exc).__name__)
        else:
            print("rendered", len(text), "characters")
        """
    )

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (512 * MB, 512 * MB))

    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=source,
            capture_output=True,
            text=True,
            timeout=10,
            cwd=paths.PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT)},
            preexec_fn=limit_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still rendering after {time.monotonic() - started:.0f} s: not refused")
    outcome = done.stdout.strip() or done.stderr.strip()[-300:]
    assert outcome.startswith("refused:"), f"not refused: {outcome}"
    assert time.monotonic() - started < 10


# SQL-looking text ---------------------------------------------------------------------------------

SQL = (
    "' OR '1'='1",
    "admin'--",
    "admin' OR 1=1; --",
    "1; DROP TABLE web_users; --",
    "'; UPDATE cases SET status='closed'; --",
    '" OR ""="',
    "\\'; DELETE FROM audit_log; --",
    "%' OR 1=1 --",
    "admin\x00",
)


async def test_sql_in_the_login_form_is_just_a_wrong_password(
    browsers: dict[str, httpx.AsyncClient], seeded: Seeded, sessions: Sessions
) -> None:
    anonymous = browsers["anonymous"]
    users, counts = await web_users(sessions), await row_counts(sessions)
    for text in SQL:
        for username, password in ((text, PASSWORD), (text, text)):
            data = {
                "username": username,
                "password": password,
                "csrf_token": seeded.csrf["anonymous"],
            }
            response = await anonymous.post("/login", data=data)
            assert response.status_code == 401, (username, response.status_code)
    assert await web_users(sessions) == users, "no account changed (no failure was counted)"
    assert others_rows(await row_counts(sessions)) == others_rows(counts)
    assert (await anonymous.get("/audit")).headers.get("location") == "/login", "not signed in"


async def test_sql_in_a_web_chat_message_is_just_text(app: Starlette, sessions: Sessions) -> None:
    counts, cases_before = await row_counts(sessions), await case_rows(sessions)
    for text in SQL:
        async with chat_browser(app) as chat:  # a chat each: 30 messages a minute per chat
            token = await chat_csrf(chat)
            for body in ({"text": text}, {"payload": text}, {"command": text}, {"after": text}):
                response = await chat.post("/chat/send", json=body, headers={"X-CSRF-Token": token})
                assert response.status_code == 200, (body, response.status_code)
            polled = await poll(chat, token, text)
            assert polled.status_code == 200 and polled.json()["replies"] == []
    assert others_rows(await row_counts(sessions)) == others_rows(counts)
    assert await case_rows(sessions) == cases_before


async def test_sql_in_query_parameters_is_neutralised(
    browsers: dict[str, httpx.AsyncClient], sessions: Sessions
) -> None:
    counts = await row_counts(sessions)
    for text in SQL:
        for role, path, name in (
            ("editor", "/content", "q"),
            ("editor", "/content", "area"),
            ("editor", "/insight", "days"),
        ):
            response = await browsers[role].get(path, params={name: text})
            assert response.status_code == 200, (path, name, text, response.status_code)
    searched = await browsers["editor"].get("/content", params={"q": "' OR '1'='1"})
    assert 'href="/content/hiv_prep"' not in searched.text, "matches nothing, not everything"
    assert await row_counts(sessions) == counts


# absurd ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("counsellor", "GET", f"/cases/{HUGE}"),
        ("counsellor", "GET", f"/cases/{HUGE}/messages"),
        ("counsellor", "POST", f"/cases/{HUGE}/claim"),
        ("counsellor", "POST", f"/cases/{HUGE}/reply"),
        ("reviewer", "GET", f"/review/{ITEM}/{HUGE}"),
        ("reviewer", "POST", f"/review/{ITEM}/{HUGE}/approve"),
        ("reviewer", "POST", f"/review/{ITEM}/{HUGE}/return"),
        ("editor", "GET", f"/content/{ITEM}/history/{HUGE}"),
        ("reviewer", "POST", f"/content/{ITEM}/history/{HUGE}/rollback"),
        ("anonymous", "GET", f"/chat/poll?after={HUGE}"),
    ],
)
async def test_an_id_too_big_for_any_column_is_not_found_or_refused_never_a_500(
    browsers: dict[str, httpx.AsyncClient],
    seeded: Seeded,
    sessions: Sessions,
    role: str,
    method: str,
    path: str,
) -> None:
    client = browsers[role]
    counts = await row_counts(sessions)
    headers = {"X-CSRF-Token": await chat_csrf(client)} if path.startswith("/chat") else {}
    data = {"csrf_token": seeded.csrf[role], "text": "x", "comment": "x"}
    response = await client.request(
        method, path, data=data if method == "POST" else None, headers=headers
    )
    assert response.status_code in (200, 303, 403, 404), response.status_code
    assert others_rows(await row_counts(sessions)) == others_rows(counts)


async def test_a_counsellor_cannot_act_on_another_counsellors_case_from_the_web(
    browsers: dict[str, httpx.AsyncClient], seeded: Seeded, sessions: Sessions
) -> None:
    counsellor = browsers["counsellor"]
    before, counts = await case_rows(sessions), await row_counts(sessions)
    for action in ("claim", "reply", "note", "transfer", "close"):
        data = {"csrf_token": seeded.csrf["counsellor"], "text": "x", "resolution": "x"}
        response = await counsellor.post(f"/cases/{OTHERS_CASE}/{action}", data=data)
        assert response.status_code in (303, 403), (action, response.status_code)
        if response.status_code == 303:  # claim: the desk refuses, the page says why
            assert response.headers["location"] == f"/cases/{OTHERS_CASE}"
    for page in (f"/cases/{OTHERS_CASE}", f"/cases/{OTHERS_CASE}/messages"):
        response = await counsellor.get(page)
        assert response.status_code == 403 and "hello from 3" not in response.text
    assert await case_rows(sessions) == before
    assert others_rows(await row_counts(sessions)) == others_rows(counts)


# the web chat's token -----------------------------------------------------------------------------


def chat_browser(app: Starlette, token: str | None = None) -> httpx.AsyncClient:
    client = connect(app, raise_app_exceptions=False)
    if token is not None:
        client.cookies.set(CHAT_COOKIE, token, domain="testserver.local", path="/chat")
    return client


async def poll(client: httpx.AsyncClient, csrf: str, ack: str = "") -> httpx.Response:
    return await client.get("/chat/poll", params={"ack": ack}, headers={"X-CSRF-Token": csrf})


async def test_a_forged_chat_token_cannot_read_another_chats_outbox(
    app: Starlette, browsers: dict[str, httpx.AsyncClient], seeded: Seeded, sessions: Sessions
) -> None:
    victim = CHAT_TOKENS[MY_CASE]  # the chat's identity; its cookie is signed by the server
    cookie = sign(SECRET, victim)
    reply = await browsers["counsellor"].post(
        f"/cases/{MY_CASE}/reply",
        data={"csrf_token": seeded.csrf["counsellor"], "text": "private words for case 2"},
    )
    assert reply.status_code == 303
    async with sessions() as session:
        assert len(list(await session.scalars(select(WebOutboxDB)))) == 1

    async with chat_browser(app) as attacker:
        own = await chat_csrf(attacker)
        own_token = attacker.cookies.get(CHAT_COOKIE, path="/chat")
        assert own_token and own_token != cookie
        own_identity = own_token.split(".")[0]
        assert (await poll(attacker, own, "-1")).json()["replies"] == []
        for ack in ("0", "1", "1,2,3", HUGE):  # acknowledging another chat's ids deletes nothing
            assert (await poll(attacker, own, ack)).json()["replies"] == []
        # the victim's CSRF token needs the server's secret: guessing it is refused
        for guess in (csrf_for("another secret", victim), csrf_for(SECRET, own_identity), ""):
            async with chat_browser(app, cookie) as stolen_cookie_name:
                response = await poll(stolen_cookie_name, guess)
                assert response.status_code == 403 or response.json()["replies"] == []
    for forged in (
        victim,  # the identity alone: a token the server did not sign opens nothing
        sign("another secret", victim),
        cookie.upper(),
        cookie[:-1],
        cookie + "x",
        f"web:{cookie}",
        cookie[:-1] + "/",
        "../" + cookie[3:],
        secrets.token_urlsafe(32),
    ):
        async with chat_browser(app, forged) as client:
            response = await poll(client, csrf_for(SECRET, victim))
            assert response.status_code == 403, forged
            found = re.search(r'data-csrf="([^"]+)"', (await client.get("/chat")).text)
            assert found
            assert (await poll(client, found[1])).json()["replies"] == [], forged

    async with chat_browser(app, cookie) as owner:  # the control: the real chat still gets it
        response = await poll(owner, csrf_for(SECRET, victim))
        assert "private words for case 2" in response.json()["replies"][0]["html"]
    async with sessions() as session:  # nothing the attacker acknowledged was deleted
        assert len(list(await session.scalars(select(WebOutboxDB)))) == 1


async def test_a_staff_session_is_not_a_chat_and_a_chat_is_not_a_session(
    browsers: dict[str, httpx.AsyncClient], app: Starlette
) -> None:
    admin = browsers["admin"]
    assert (await poll(admin, "")).status_code == 403, "a staff session alone is no chat"
    async with chat_browser(app, sign(SECRET, CHAT_TOKENS[MY_CASE])) as chat:
        response = await chat.get("/audit")
        assert response.status_code == 303 and response.headers["location"] == "/login"


# forged session cookies ---------------------------------------------------------------------------


def signed(payload: dict[str, Any], key: str, *, age: int = 0) -> str:
    """A session cookie as Starlette makes one, signed with `key`, `age` seconds old."""
    data = b64encode(json.dumps(payload).encode())

    class Then(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age

    return Then(key).sign(data).decode()


async def test_a_forged_session_cookie_is_anonymous(
    app: Starlette, sessions: Sessions, seeded: Seeded
) -> None:
    async with sessions() as session:
        admin = await session.scalar(select(WebUserDB).where(WebUserDB.username == "admin"))
        counsellor = await session.scalar(
            select(WebUserDB).where(WebUserDB.username == "counsellor")
        )
        assert admin is not None and counsellor is not None
    claims = {
        "user_id": admin.id,
        "role": "admin",
        "username": "admin",
        "version": admin.session_version,
        "csrf": "x" * 43,
    }
    real = seeded.cookies["admin"]
    forged = {
        "random": secrets.token_urlsafe(64),
        "empty": "",
        "another secret": signed(claims, session_key("another secret")),
        "the raw secret, not the derived key": signed(claims, SECRET),
        "unsigned": b64encode(json.dumps(claims).encode()).decode(),
        "tampered payload": b64encode(json.dumps(claims).encode()).decode()
        + real[real.index(".") :],
        "expired (9 hours old)": signed(claims, session_key(SECRET), age=9 * 3600),
    }
    for name, cookie in forged.items():
        async with connect(app, raise_app_exceptions=False) as client:
            client.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")
            for page in ("/audit", "/inbox", "/content"):
                response = await client.get(page)
                assert (response.status_code, response.headers.get("location")) == (
                    303,
                    "/login",
                ), (name, page)
            posted = await client.post("/inbox/next", data={"csrf_token": "x" * 43})
            assert posted.status_code in (303, 403), name
            assert posted.headers.get("location") in ("/login", None), name

    # the controls: the real cookie, and one this test signs with the real key, do get in
    for cookie in (real, signed(claims, session_key(SECRET))):
        async with connect(app) as client:
            client.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")
            assert (await client.get("/audit")).status_code == 200

    # with the real key (a leaked secret), a claimed role must still match the account
    promoted = {**claims, "user_id": counsellor.id, "username": "counsellor"}
    async with connect(app) as client:
        client.cookies.set(
            SESSION_COOKIE, signed(promoted, session_key(SECRET)), "testserver.local"
        )
        response = await client.get("/audit")
        assert (response.status_code, response.headers.get("location")) == (303, "/login")


async def test_a_login_form_token_from_one_browser_does_not_sign_in_another(
    app: Starlette,
) -> None:
    async with connect(app) as first, connect(app) as second:
        token = await form_csrf(first, "/login")
        response = await second.post(
            "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 403
        assert (await second.get("/audit")).headers.get("location") == "/login"


# PostgreSQL (what production runs): narrower integers, no NUL in text -----------------------------


@pytest.mark.postgres
async def test_on_postgresql_big_numbers_and_nul_bytes_are_not_a_500(
    postgres_url: str, content: ContentStore
) -> None:
    """SQLite takes 64-bit integers and NUL characters; PostgreSQL's `integer` columns stop at
    2^31 - 1 and its text refuses NUL. Neither may turn a forged request into a 500."""
    await upgrade(postgres_url)
    db = create_engine(postgres_url)
    sessions = session_factory(db)
    try:
        async with sessions() as session, session.begin():
            await add_user(
                session=session, username="counsellor", password=PASSWORD, role="counsellor"
            )
        app = build_web_app(
            secret=SECRET, sessions=sessions, desk=Desk(DESK_SETTINGS, Renderer(content)), bot=None
        )
        token = secrets.token_urlsafe(32)
        got: dict[str, int] = {}
        async with chat_browser(app, sign(SECRET, token)) as chat:
            for ack in (str(2**31), str(2**62), "9" * 19):
                got[f"poll ack={ack}"] = (
                    await poll(chat, csrf_for(SECRET, token), ack)
                ).status_code
        async with connect(app, raise_app_exceptions=False) as browser:
            csrf = await form_csrf(browser, "/login")
            for username in ("admin\x00", "counsellor\x00"):
                data = {"username": username, "password": PASSWORD, "csrf_token": csrf}
                got[f"login {username!r}"] = (await browser.post("/login", data=data)).status_code
            data = {"username": "counsellor", "password": PASSWORD, "csrf_token": csrf}
            assert (await browser.post("/login", data=data)).status_code == 303
            for path in (f"/cases/{2**31}", f"/cases/{2**31}/messages"):
                got[path] = (await browser.get(path)).status_code
        wanted = {
            **{f"poll ack={a}": 200 for a in (str(2**31), str(2**62), "9" * 19)},
            **{f"login {u!r}": 401 for u in ("admin\x00", "counsellor\x00")},
            **{p: 404 for p in (f"/cases/{2**31}", f"/cases/{2**31}/messages")},
        }
        assert got == wanted
    finally:
        await db.dispose()
