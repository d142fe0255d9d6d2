"""Login throttling: attempts per client address and logins hashing at once, both bounded."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.db.models import AuditDB
from bot.dialogue.counsellor import Desk
from bot.web import accounts
from bot.web.accounts import add_user
from bot.web.app import build_web_app
from bot.web.throttle import LoginThrottle
from tests.conftest import DESK_SETTINGS, SECRET

PASSWORD = "correct horse battery"
PER_ADDRESS = 3


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle(per_address=PER_ADDRESS, concurrent=1)


@pytest.fixture
async def throttled_app(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore, throttle: LoginThrottle
) -> Starlette:
    async with sessions() as session, session.begin():
        await add_user(session=session, username="amina", password=PASSWORD, role="editor")
    desk = Desk(DESK_SETTINGS, Renderer(content))
    return build_web_app(
        secret=SECRET, sessions=sessions, desk=desk, bot=None, login_throttle=throttle
    )


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password check the console makes (known and unknown usernames alike)."""
    checked: list[str] = []
    real = accounts.verify_password

    def counted(password_hash: str, password: str) -> bool:
        checked.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counted)
    return checked


def browser(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def from_address(
    throttled_app: Starlette,
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    opened: list[httpx.AsyncClient] = []

    def make(address: str) -> httpx.AsyncClient:
        opened.append(browser(throttled_app, address))
        return opened[-1]

    yield make
    for client in opened:
        await client.aclose()


async def log_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/login")).text)
    assert found
    form = {"username": username, "password": password, "csrf_token": found.group(1)}
    return await client.post("/login", data=form)


async def audited(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(AuditDB.action).order_by(AuditDB.id)))


async def test_one_attempt_over_the_limit_from_an_address_gets_429_without_hashing(
    from_address: Callable[[str], httpx.AsyncClient],
    hashes: list[str],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    flooder = from_address("10.0.0.1")
    for n in range(PER_ADDRESS):
        assert (await log_in(flooder, f"nobody{n}", "wrong password")).status_code == 401
    assert len(hashes) == PER_ADDRESS, "unknown usernames cost a hash like known ones"

    refused = await log_in(flooder, "amina", PASSWORD)  # even the right password: not hashed

    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "Too many sign-in attempts" in refused.text
    assert len(hashes) == PER_ADDRESS
    assert await audited(sessions) == ["login.failed"] * PER_ADDRESS
    someone_else = from_address("10.0.0.2")
    assert (await log_in(someone_else, "amina", PASSWORD)).status_code == 303


async def test_the_right_password_works_within_the_limit(
    from_address: Callable[[str], httpx.AsyncClient],
) -> None:
    client = from_address("10.0.0.3")
    for _ in range(PER_ADDRESS - 1):
        assert (await log_in(client, "amina", "a typo password")).status_code == 401
    signed = await log_in(client, "amina", PASSWORD)
    assert signed.status_code == 303 and signed.headers["location"] == "/content"


async def test_when_every_hashing_slot_is_busy_a_login_is_refused_at_once(
    from_address: Callable[[str], httpx.AsyncClient],
    throttle: LoginThrottle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entered, release = threading.Event(), threading.Event()
    real = accounts.verify_password

    def slow(password_hash: str, password: str) -> bool:
        entered.set()
        release.wait(10)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", slow)
    first = asyncio.create_task(log_in(from_address("10.0.1.1"), "amina", PASSWORD))
    assert await asyncio.to_thread(entered.wait, 5)
    assert throttle.busy == 1

    try:
        refused = await asyncio.wait_for(log_in(from_address("10.0.1.2"), "amina", PASSWORD), 5)
    finally:
        release.set()

    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert (await first).status_code == 303, "the login that held the slot is not disturbed"
    assert throttle.busy == 0
    assert (await log_in(from_address("10.0.1.2"), "amina", PASSWORD)).status_code == 303


async def test_the_lock_after_five_failures_still_holds_under_the_throttle(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore
) -> None:
    async with sessions() as session, session.begin():
        await add_user(session=session, username="amina", password=PASSWORD, role="editor")
    app = build_web_app(
        secret=SECRET,
        sessions=sessions,
        desk=Desk(DESK_SETTINGS, Renderer(content)),
        bot=None,
        login_throttle=LoginThrottle(per_address=PER_ADDRESS, concurrent=1),
    )
    for n in range(5):  # from different addresses: the throttle does not stop them
        async with browser(app, f"10.0.2.{n}") as client:
            assert (await log_in(client, "amina", "wrong password")).status_code == 401
    async with browser(app, "10.0.2.9") as client:
        locked = await log_in(client, "amina", PASSWORD)
    assert locked.status_code == 401 and "locked" in locked.text
