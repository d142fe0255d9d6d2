"""Every route of the web app, every method, every role: who gets in, who is refused.

The routes are read from the application itself (`app.routes`, mounts included), so a route added
later is tried at once, and fails until it has a row in `EXPECTED`: the permission table below is
the contract, written out in full, so that changing who may do what is a visible change here.

Anonymous visitors are redirected to /login (303) by every staff page and action; the public
routes (login, logout, the web chat and its script, /healthz, /readyz) answer everyone. POSTs carry
a valid CSRF token, so the role check is what decides; a separate test refuses every POST without
one, or with a wrong one, even for an admin. Path parameters name real objects (a waiting case, the
counsellor's active case, content revisions), and a 404 never decides a role test.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Mount, Route

from bot import paths
from bot.cases import repository as cases
from bot.cases.seal import seal
from bot.content import revisions
from bot.content.live import LiveContent
from bot.content.render import Renderer
from bot.content.store import ContentStore, load_content
from bot.content.sync import import_files
from bot.db.models import AuditDB, Base
from bot.db.repository import get_or_create_user
from bot.db.session import create_engine, session_factory
from bot.dialogue.addresses import web_address
from bot.dialogue.counsellor import Desk
from bot.web.accounts import add_user, counsellor_of, user_by_name
from bot.web.app import build_web_app
from bot.web.chat import PAGE_HEADERS
from bot.web.chat import user_id as chat_user_id
from bot.web.security import SESSION_COOKIE
from bot.web.throttle import LoginThrottle
from nlu.embedded import EmbeddedParser
from tests.conftest import DESK_SETTINGS, MIDDAY_IN_NAIROBI, SECRET, make_engine, run_in_new_loop

PASSWORD = "correct horse battery"
ROLES = ("anonymous", "counsellor", "editor", "reviewer", "admin")
STAFF = ROLES[1:]
# The web chats of the three young people whose cases are seeded (tokens look like real ones).
CHAT_TOKENS = {case_id: f"seeded-chat-token-{case_id}".ljust(43, "x") for case_id in (1, 2, 3)}
WAITING_CASE, MY_CASE, OTHERS_CASE = 1, 2, 3  # MY_CASE: the "counsellor" account's active case
ITEM = "hiv_prep"  # revision 1 from the files (retired), 2 published, 3 submitted by editor2
RETIRED, PUBLISHED, SUBMITTED = 1, 2, 3

# expected outcomes: (status, Location) ---------------------------------------------------------

Outcome = tuple[int, str | None]
OK: Outcome = (200, None)
LOGIN: Outcome = (303, "/login")  # anonymous visitors, sent to sign in
DENIED: Outcome = (403, None)  # signed in, but the role may not
WRONG_PASSWORD: Outcome = (401, None)


def to(location: str) -> Outcome:
    """A 303 to somewhere other than /login: the action ran and the page moves on."""
    return (303, location)


@dataclass(frozen=True)
class Expect:
    """One route and method: the concrete path tried, what each role gets, and for a POST the
    form (or JSON) sent and the audit action a permitted request writes."""

    path: str
    anonymous: Outcome
    counsellor: Outcome
    editor: Outcome
    reviewer: Outcome
    admin: Outcome
    data: Mapping[str, str] = field(default_factory=dict)
    audit: str = ""

    def outcome(self, role: str) -> Outcome:
        value: Outcome = getattr(self, role)
        return value


CASE = f"/cases/{MY_CASE}"
HISTORY = f"/content/{ITEM}/history"
REVIEW = f"/review/{ITEM}/{SUBMITTED}"
# README "Web console and web chat": counsellor → inbox and cases; editor → content, insight;
# reviewer → content, review, insight; admin → everything, plus /audit. Admins pass every role
# check (`require`), but the inbox's actions also need a counsellor record, which an admin
# account does not have: they see the inbox and waiting cases, and every case action is 403.
# (The README's table marks the inbox actions ✓ for admin; the code refuses them.)
EXPECTED: dict[tuple[str, str], Expect] = {
    # public ------------------------------------------------------------------------------------
    ("GET", "/"): Expect("/", LOGIN, to("/inbox"), to("/content"), to("/review"), to("/inbox")),
    ("GET", "/login"): Expect("/login", OK, OK, OK, OK, OK),
    ("POST", "/login"): Expect(
        "/login",
        *(WRONG_PASSWORD,) * 5,
        data={"username": "nobody", "password": "not the password"},
        audit="login.failed",
    ),
    ("POST", "/logout"): Expect("/logout", *(LOGIN,) * 5),
    ("GET", "/chat"): Expect("/chat", *(OK,) * 5),
    ("GET", "/chat/app.js"): Expect("/chat/app.js", *(OK,) * 5),
    ("POST", "/chat/send"): Expect("/chat/send", *(OK,) * 5, data={"command": "start"}),
    ("GET", "/chat/poll"): Expect("/chat/poll?after=0", *(OK,) * 5),
    ("POST", "/chat/exit"): Expect("/chat/exit", *(OK,) * 5),
    ("GET", "/healthz"): Expect("/healthz", *(OK,) * 5),
    ("GET", "/readyz"): Expect("/readyz", *(OK,) * 5),
    # admin -------------------------------------------------------------------------------------
    ("GET", "/audit"): Expect("/audit", LOGIN, DENIED, DENIED, DENIED, OK),
    # counsellors -------------------------------------------------------------------------------
    ("GET", "/inbox"): Expect("/inbox", LOGIN, OK, DENIED, DENIED, OK),
    ("POST", "/inbox/duty"): Expect(
        "/inbox/duty",
        LOGIN,
        to("/inbox"),
        DENIED,
        DENIED,
        DENIED,
        data={"on": "1"},
        audit="case.duty",
    ),
    ("POST", "/inbox/next"): Expect(
        "/inbox/next", LOGIN, to("/inbox"), DENIED, DENIED, DENIED, audit="case.next"
    ),
    ("GET", "/cases/{case_id:id}"): Expect(f"/cases/{WAITING_CASE}", LOGIN, OK, DENIED, DENIED, OK),
    ("GET", "/cases/{case_id:id}/messages"): Expect(
        f"/cases/{WAITING_CASE}/messages", LOGIN, OK, DENIED, DENIED, OK
    ),
    ("POST", "/cases/{case_id:id}/claim"): Expect(
        f"/cases/{WAITING_CASE}/claim",
        LOGIN,
        to(f"/cases/{WAITING_CASE}"),  # reaches the desk (which says: close case 2 first)
        DENIED,
        DENIED,
        DENIED,
        audit="case.take",
    ),
    ("POST", "/cases/{case_id:id}/reply"): Expect(
        f"{CASE}/reply",
        LOGIN,
        to(CASE),
        DENIED,
        DENIED,
        DENIED,
        data={"text": "I am here."},
        audit="case.reply",
    ),
    ("POST", "/cases/{case_id:id}/note"): Expect(
        f"{CASE}/note",
        LOGIN,
        to(CASE),
        DENIED,
        DENIED,
        DENIED,
        data={"text": "a private note"},
        audit="case.note",
    ),
    ("POST", "/cases/{case_id:id}/transfer"): Expect(
        f"{CASE}/transfer", LOGIN, to("/inbox"), DENIED, DENIED, DENIED, audit="case.transfer"
    ),
    ("POST", "/cases/{case_id:id}/close"): Expect(
        f"{CASE}/close",
        LOGIN,
        to("/inbox"),
        DENIED,
        DENIED,
        DENIED,
        data={"resolution": "talked it through"},
        audit="case.close",
    ),
    # editors, reviewers ------------------------------------------------------------------------
    ("GET", "/content"): Expect("/content?q=prep", LOGIN, DENIED, OK, OK, OK),
    ("GET", "/content/{item}"): Expect(f"/content/{ITEM}", LOGIN, DENIED, OK, OK, OK),
    ("GET", "/content/{item}/edit"): Expect(f"/content/{ITEM}/edit", LOGIN, DENIED, OK, OK, OK),
    ("POST", "/content/{item}/edit"): Expect(
        f"/content/{ITEM}/edit",
        LOGIN,
        DENIED,
        OK,  # a preview of an empty form: the problems are listed, nothing is saved
        OK,
        OK,
        data={"action": "preview"},
    ),
    ("GET", "/content/{item}/history"): Expect(HISTORY, LOGIN, DENIED, OK, OK, OK),
    ("GET", "/content/{item}/history/{number:id}"): Expect(
        f"{HISTORY}/{RETIRED}", LOGIN, DENIED, OK, OK, OK
    ),
    ("GET", "/insight"): Expect("/insight?days=30", LOGIN, DENIED, OK, OK, OK),
    # reviewers ---------------------------------------------------------------------------------
    ("GET", "/review"): Expect("/review", LOGIN, DENIED, DENIED, OK, OK),
    ("GET", "/review/{item}/{number:id}"): Expect(REVIEW, LOGIN, DENIED, DENIED, OK, OK),
    ("POST", "/review/{item}/{number:id}/approve"): Expect(
        f"{REVIEW}/approve",
        LOGIN,
        DENIED,
        DENIED,
        to("/review"),
        to("/review"),
        audit="content.approve",
    ),
    ("POST", "/review/{item}/{number:id}/return"): Expect(
        f"{REVIEW}/return",
        LOGIN,
        DENIED,
        DENIED,
        to("/review"),
        to("/review"),
        data={"comment": "Please cite the source."},
        audit="content.return",
    ),
    ("POST", "/content/{item}/history/{number:id}/rollback"): Expect(
        f"{HISTORY}/{RETIRED}/rollback",
        LOGIN,
        DENIED,
        DENIED,
        to(HISTORY),
        to(HISTORY),
        audit="content.rollback",
    ),
}
CHAT_API = ("/chat/send", "/chat/poll", "/chat/exit")


# the routes, as the application lists them -----------------------------------------------------


def routes_of(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, Route]]:
    """(method, path template, route) for every route, looking inside mounts."""
    for route in routes:
        if isinstance(route, Mount):
            yield from routes_of(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path, route
        else:  # a WebSocketRoute or a Host: add it to this test before it goes live
            raise AssertionError(f"no rule for a {type(route).__name__} yet: {route!r}")


def expected_of(method: str, template: str) -> Expect:
    """The table's row (HEAD is answered by the GET endpoint, so it expects the same)."""
    key = ("GET" if method == "HEAD" else method, template)
    assert key in EXPECTED, f"{method} {template} is not in EXPECTED: say who may use it"
    return EXPECTED[key]


def app_for_listing() -> Starlette:
    """The application with stand-ins, only to read its routes (nothing is served)."""
    desk = Desk(DESK_SETTINGS, Renderer(load_content(paths.CONTENT_DIR)))
    return build_web_app(secret=SECRET, sessions=async_sessionmaker(), desk=desk, bot=None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over the app's routes: a new route shows up here on its own."""
    listed = [(m, t) for m, t, _ in routes_of(app_for_listing().routes)]
    if {"method", "template", "role"} <= set(metafunc.fixturenames):
        cases_ = [(m, t, r) for m, t in listed for r in ROLES]
        ids = [f"{m} {t} as {r}" for m, t, r in cases_]
        metafunc.parametrize(("method", "template", "role"), cases_, ids=ids)
    elif {"viewed_method", "viewed_template", "viewer"} <= set(metafunc.fixturenames):
        viewed = [(m, t, r) for m, t in listed for r in ("anonymous", "admin")]
        ids = [f"{m} {t} as {r}" for m, t, r in viewed]
        metafunc.parametrize(("viewed_method", "viewed_template", "viewer"), viewed, ids=ids)
    elif {"post_template", "forger"} <= set(metafunc.fixturenames):
        forged = [
            (t, r) for m, t in listed if m == "POST" for r in csrf_roles(EXPECTED.get((m, t)))
        ]
        ids = [f"POST {t} as {r}" for t, r in forged]
        metafunc.parametrize(("post_template", "forger"), forged, ids=ids)


def csrf_roles(expect: Expect | None) -> list[str]:
    """Who tries a POST with a forged token: admin, and the first role the route lets through
    (so the refusal is the token's doing, not the role's)."""
    if expect is None:  # not in the table: the test fails, saying so
        return ["admin"]
    allowed = [r for r in ROLES if expect.outcome(r)[0] not in (403,) and r != "admin"]
    allowed = [r for r in allowed if r != "anonymous" or expect.anonymous != LOGIN]
    return [*allowed[:1], "admin"]


# the seeded database, and a signed-in session per role -----------------------------------------


@dataclass(frozen=True)
class Seeded:
    path: Path
    cookies: dict[str, str]  # role -> the session cookie's value
    csrf: dict[str, str]  # role -> that session's CSRF token


async def seed(database_url: str, content: ContentStore) -> None:
    """Accounts for every role; hiv_prep with a retired, a published and a submitted revision;
    a waiting case (1), the "counsellor" account's active case (2) and another counsellor's (3),
    each for a young person on the web chat, with a transcript line and a note on 2 and 3."""
    db = create_engine(database_url)
    sessions = session_factory(db)
    await import_files(sessions, paths.CONTENT_DIR, paths.NLU_DATA_DIR, store=content)
    async with sessions() as session, session.begin():
        for username, role in (
            ("counsellor", "counsellor"),
            ("counsellor2", "counsellor"),
            ("editor", "editor"),
            ("editor2", "editor"),
            ("reviewer", "reviewer"),
            ("admin", "admin"),
        ):
            await add_user(session=session, username=username, password=PASSWORD, role=role)
    async with sessions() as session, session.begin():
        first = (await revisions.published(session))[ITEM]
        for number, extra in ((PUBLISHED, "Ask at any clinic."), (SUBMITTED, "It is free.")):
            body: dict[str, Any] = copy.deepcopy(first.body)
            body["answer"]["en"] = body["answer"]["en"].rstrip() + f" {extra}\n"
            row = await revisions.save_draft(
                session, item=ITEM, kind=first.kind, body=body, author="editor2"
            )
            assert row.number == number
            await revisions.submit(session, item=ITEM, number=number, actor="editor2")
            if number == PUBLISHED:
                await revisions.approve(
                    session, item=ITEM, number=number, reviewer="reviewer", today=date.today()
                )
    async with sessions() as session, session.begin():
        for case_id, token in CHAT_TOKENS.items():
            young = await get_or_create_user(
                session=session, user_id=chat_user_id(SECRET, token), channel="web"
            )
            young.language = "en"
            case, _ = await cases.open_case(
                session=session,
                user_id=young.id,
                channel="web",
                language="en",
                source="request",
                priority="normal",
                route=seal(SECRET, web_address(token)),
            )
            assert case.id == case_id
        for case_id, username in ((MY_CASE, "counsellor"), (OTHERS_CASE, "counsellor2")):
            user = await user_by_name(session=session, username=username)
            assert user is not None
            staff = await counsellor_of(session=session, user_id=user.id)
            assert staff is not None
            assert await cases.claim(session=session, case_id=case_id, counsellor_id=staff.id)
            await cases.add_transcript(
                session=session, case_id=case_id, sender="young", text=f"hello from {case_id}"
            )
            await cases.add_note(
                session=session, case_id=case_id, counsellor_id=staff.id, text=f"note {case_id}"
            )
    await db.dispose()


async def sign_in_everyone(database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Sign each role in through the real login form; keep the cookies and CSRF tokens."""
    db = create_engine(database_url)
    app = build_web_app(
        secret=SECRET,
        sessions=session_factory(db),
        desk=Desk(DESK_SETTINGS, Renderer(load_content(paths.CONTENT_DIR))),
        bot=None,
    )
    cookies, tokens = {}, {}
    for role in ROLES:
        async with connect(app) as client:
            token = await form_csrf(client, "/login")
            if role != "anonymous":
                signed = await client.post(
                    "/login", data={"username": role, "password": PASSWORD, "csrf_token": token}
                )
                assert signed.status_code == 303, (role, signed.text[:300])
                token = await form_csrf(client, "/login")
            cookies[role] = client.cookies[SESSION_COOKIE]
            tokens[role] = token
    await db.dispose()
    return cookies, tokens


def seeded_database(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path, content: ContentStore
) -> Seeded:
    """The seeded database (made once per module: hashing passwords takes a while)."""
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    shutil.copy(migrated_sqlite, path)
    run_in_new_loop(seed(f"sqlite:///{path}", content))
    cookies, tokens = run_in_new_loop(sign_in_everyone(f"sqlite:///{path}"))
    return Seeded(path, cookies, tokens)


async def whole_app(
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
    parser: EmbeddedParser,
    login_throttle: LoginThrottle | None = None,
) -> Starlette:
    """The whole application: console, content pages (live content) and the web chat."""
    live = LiveContent(content, Renderer(content), sessions, interval=0.0)
    await live.refresh(force=True)
    return build_web_app(
        secret=SECRET,
        sessions=sessions,
        desk=Desk(DESK_SETTINGS, Renderer(content), clock=lambda: MIDDAY_IN_NAIROBI),
        bot=None,
        live=live,
        dialogue=make_engine(sessions, parser, content, live=True),
        login_throttle=login_throttle,
    )


def connect(app: Starlette, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """A browser for the app, in-process; with `raise_app_exceptions=False` a crash is a 500."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def signed_in_as(app: Starlette, seeded: Seeded, role: str, **options: bool) -> httpx.AsyncClient:
    """A browser holding the session cookie `role` got from the login form."""
    client = connect(app, **options)
    client.cookies.set(SESSION_COOKIE, seeded.cookies[role], domain="testserver.local")
    return client


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path, content: ContentStore
) -> Seeded:
    return seeded_database(tmp_path_factory, migrated_sqlite, content)


def own_copy(seeded: Seeded, folder: Path) -> str:
    """The URL of a copy of the seeded database in `folder`, for one test to change."""
    path = folder / "healthbot.db"
    shutil.copy(seeded.path, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(tmp_path: Path, seeded: Seeded) -> str:
    """This test's own copy of the seeded database."""
    return own_copy(seeded, tmp_path)


@pytest.fixture
async def app(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore, parser: EmbeddedParser
) -> Starlette:
    return await whole_app(sessions, content, parser)


@pytest.fixture
async def clients(app: Starlette, seeded: Seeded) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A browser per role, holding that role's session cookie."""
    opened = {role: signed_in_as(app, seeded, role) for role in ROLES}
    yield opened
    for client in opened.values():
        await client.aclose()


async def form_csrf(client: httpx.AsyncClient, page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(page)).text)
    assert found, page
    return found.group(1)


async def chat_csrf(client: httpx.AsyncClient) -> str:
    """Open the web chat (which sets its cookie) and read the page's CSRF token."""
    found = re.search(r'data-csrf="([^"]+)"', (await client.get("/chat")).text)
    assert found
    return found.group(1)


async def audit_actions(sessions: async_sessionmaker[AsyncSession], after: int) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(select(AuditDB).where(AuditDB.id > after).order_by(AuditDB.id))
        return [row.action for row in rows]


async def last_audit_id(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.max(AuditDB.id))) or 0)


async def row_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """How many rows every table holds."""
    async with sessions() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def location_of(response: httpx.Response) -> str | None:
    return response.headers.get("location") if response.is_redirect else None


async def request(
    client: httpx.AsyncClient,
    method: str,
    expect: Expect,
    *,
    csrf: str | None,
    chat: str | None = None,
) -> httpx.Response:
    """Send the row's request; `csrf` goes in the form, `chat` in the web chat's header."""
    path = expect.path.split("?")[0]
    headers = {"X-CSRF-Token": chat} if chat is not None else {}
    if path == "/chat/send":
        return await client.post(path, json=dict(expect.data), headers=headers)
    if method == "POST":
        form = dict(expect.data) | ({"csrf_token": csrf} if csrf is not None else {})
        return await client.post(path, data=form, headers=headers)
    return await client.request(method, expect.path, headers=headers)


# the tests ---------------------------------------------------------------------------------------


def test_every_route_of_the_app_has_a_row_and_every_row_a_route() -> None:
    listed = list(routes_of(app_for_listing().routes))
    assert {("GET" if m == "HEAD" else m, t) for m, t, _ in listed} == set(EXPECTED)
    for (method, template), expect in EXPECTED.items():
        scope = {"type": "http", "path": expect.path.split("?")[0], "method": method}
        matched = [t for m, t, r in listed if m == method and r.matches(scope)[0] is Match.FULL]
        assert matched[:1] == [template], f"{expect.path} is served by {matched}"
        statuses = {expect.outcome(role)[0] for role in ROLES}
        assert statuses <= {200, 303, 401, 403}, "a 404 never decides who may"


async def test_every_role_on_every_route(
    app: Starlette,
    clients: dict[str, httpx.AsyncClient],
    seeded: Seeded,
    sessions: async_sessionmaker[AsyncSession],
    method: str,
    template: str,
    role: str,
) -> None:
    expect = expected_of(method, template)
    route = [r for m, t, r in routes_of(app.routes) if (m, t) == (method, template)]
    assert route, "the tested app has this route"
    client = clients[role]
    chat = await chat_csrf(client) if expect.path.split("?")[0] in CHAT_API else None
    before = await last_audit_id(sessions)

    response = await request(client, method, expect, csrf=seeded.csrf[role], chat=chat)

    assert response.status_code != 404, "the path names real objects: a 404 decides nothing"
    status, location = expect.outcome(role)
    assert (response.status_code, location_of(response)) == (status, location), response.text[:300]
    permitted = status not in (403,) and (status, location) != LOGIN
    written = await audit_actions(sessions, before)
    assert written == ([expect.audit] if permitted and expect.audit else []), written


async def test_every_post_refuses_a_missing_or_forged_csrf_token(
    app: Starlette,
    clients: dict[str, httpx.AsyncClient],
    seeded: Seeded,
    sessions: async_sessionmaker[AsyncSession],
    post_template: str,
    forger: str,
) -> None:
    expect = expected_of("POST", post_template)
    client = clients[forger]
    is_chat = expect.path in ("/chat/send", "/chat/exit")
    others = "counsellor" if forger == "admin" else "admin"
    if is_chat:
        async with connect(app) as other:
            someone_elses = await chat_csrf(other)
        good = await chat_csrf(client)
        forgeries: list[dict[str, str | None]] = [
            {"chat": None},
            {"chat": ""},
            {"chat": good[:-1] + ("0" if good[-1] != "0" else "1")},
            {"chat": someone_elses},
            {"chat": seeded.csrf[forger]},  # the console's token is not the chat's
        ]
    else:
        good = seeded.csrf[forger]
        forgeries = [
            {"csrf": None},
            {"csrf": ""},
            {"csrf": good[:-1] + ("A" if good[-1] != "A" else "B")},
            {"csrf": seeded.csrf[others]},  # valid, but another session's
        ]
    before = await row_counts(sessions)

    for forged in forgeries:
        response = await request(
            client, "POST", expect, csrf=forged.get("csrf"), chat=forged.get("chat")
        )
        assert response.status_code == 403, (forged, response.text[:200])

    assert await row_counts(sessions) == before, "a refused POST changes nothing"
    valid = {"chat": good} if is_chat else {"csrf": good}
    response = await request(client, "POST", expect, csrf=valid.get("csrf"), chat=valid.get("chat"))
    status, location = expect.outcome(forger)
    assert (response.status_code, location_of(response)) == (status, location), "the control"


def assert_security_headers(response: httpx.Response, *, cacheable: bool = False) -> None:
    """The headers every response of the app carries (README "Security")."""
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, policy
    assert headers.get("referrer-policy") == "no-referrer"
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY"
    if not cacheable:
        assert headers.get("cache-control") == "no-store"
    for script in re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy, "an inline script the policy would block"


async def test_every_route_sends_the_security_headers(
    app: Starlette,
    clients: dict[str, httpx.AsyncClient],
    seeded: Seeded,
    viewed_method: str,
    viewed_template: str,
    viewer: str,
) -> None:
    expect = expected_of(viewed_method, viewed_template)
    client = clients[viewer]
    chat = await chat_csrf(client) if expect.path.split("?")[0] in CHAT_API else None

    response = await request(client, viewed_method, expect, csrf=seeded.csrf[viewer], chat=chat)

    assert_security_headers(response, cacheable=viewed_template == "/chat/app.js")
    if viewed_template == "/chat":  # the web chat keeps its own policy
        policy = PAGE_HEADERS["Content-Security-Policy"]
        assert response.headers["content-security-policy"] == policy


async def test_error_pages_and_followed_redirects_send_the_security_headers(
    app: Starlette, clients: dict[str, httpx.AsyncClient], seeded: Seeded
) -> None:
    admin, anonymous = clients["admin"], clients["anonymous"]
    for response in (
        await admin.get("/no/such/page"),  # 404
        await admin.get(f"/cases/{MY_CASE}"),  # the case page and its inline script
        await anonymous.get("/inbox", follow_redirects=True),  # the login page
        await anonymous.post("/login", data={"username": "x", "password": "y"}),  # 403
        await admin.post("/login", content=b"x" * (2 * 1024 * 1024)),  # 413
    ):
        assert_security_headers(response)
