"""Web console accounts on SQLite: hashing, validation, throttled logins, roles, audit log."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases import repository as cases
from bot.db.migrate import upgrade
from bot.db.models import CaseDB, CounsellorDB, WebUserDB
from bot.db.repository import get_or_create_user
from bot.db.session import create_engine, session_factory
from bot.web import accounts

Sessions = async_sessionmaker[AsyncSession]
PASSWORD = "correct horse battery"
WRONG = "wrong horse battery!"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def add(sessions: Sessions, username: str = "amina", role: str = "editor") -> int:
    async with sessions() as session, session.begin():
        user = await accounts.add_user(
            session=session, username=username, password=PASSWORD, role=role
        )
        return user.id


async def attempt(
    sessions: Sessions, password: str, now: datetime, username: str = "amina"
) -> WebUserDB | None:
    """One login, in its own transaction, like one request."""
    async with sessions() as session, session.begin():
        return await accounts.authenticate(
            session=session, username=username, password=password, now=now
        )


def aware(moment: datetime) -> datetime:
    """SQLite gives times back without their (UTC) offset."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


async def stored(sessions: Sessions, username: str = "amina") -> WebUserDB:
    async with sessions() as session:
        user = await accounts.user_by_name(session=session, username=username)
        assert user is not None
        return user


def test_argon2_round_trip() -> None:
    hashed = accounts.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert accounts.verify_password(hashed, PASSWORD)
    assert not accounts.verify_password(hashed, WRONG)
    assert not accounts.verify_password("not a hash", PASSWORD)
    assert accounts.hash_password(PASSWORD) != hashed, "salted"


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("am", PASSWORD, "editor", "A username needs 3 to 64 characters"),
        ("x" * 65, PASSWORD, "editor", "A username needs 3 to 64 characters"),
        ("Amina", PASSWORD, "editor", "lowercase letters"),
        ("amina w", PASSWORD, "editor", "lowercase letters"),
        ("amina", PASSWORD, "boss", "The role must be one of counsellor, editor, reviewer, admin."),
        ("amina", "short pass1", "editor", "The password needs at least 12 characters."),
    ],
)
async def test_add_user_refuses_bad_accounts_with_a_sentence(
    sessions: Sessions, username: str, password: str, role: str, message: str
) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match=message):
            await accounts.add_user(
                session=session, username=username, password=password, role=role
            )
        assert await accounts.list_users(session=session) == []


async def test_add_user_hashes_and_adding_again_updates_password_and_role(
    sessions: Sessions,
) -> None:
    first = await add(sessions, "amina", "editor")
    user = await stored(sessions)
    assert user.role == "editor" and user.password_hash.startswith("$argon2id$")
    async with sessions() as session, session.begin():
        again = await accounts.add_user(
            session=session, username="amina", password="a new long password", role="reviewer"
        )
        assert again.id == first
    assert await attempt(sessions, PASSWORD, T0) is None
    signed_in = await attempt(sessions, "a new long password", T0)
    assert signed_in is not None and signed_in.role == "reviewer"
    async with sessions() as session:
        assert [u.username for u in await accounts.list_users(session=session)] == ["amina"]
        assert await accounts.user_by_id(session=session, user_id=first) is not None
        assert await accounts.user_by_id(session=session, user_id=first + 1) is None


async def test_a_counsellor_account_gets_a_linked_counsellor_record(sessions: Sessions) -> None:
    user_id = await add(sessions, "brian", "counsellor")
    await add(sessions, "brian", "counsellor")  # again: still one record
    async with sessions() as session:
        rows = list(await session.scalars(select(CounsellorDB)))
    assert [(c.web_user_id, c.telegram_id, c.name, c.on_duty) for c in rows] == [
        (user_id, None, "brian", False)
    ]


async def test_a_counsellor_who_changes_role_or_leaves_hands_back_their_case(
    sessions: Sessions,
) -> None:
    user_id = await add(sessions, "brian", "counsellor")
    async with sessions() as session, session.begin():
        counsellor = await accounts.counsellor_of(session=session, user_id=user_id)
        assert counsellor is not None
        await cases.set_duty(session=session, counsellor_id=counsellor.id, on_duty=True)
        young = await get_or_create_user(session=session, user_id="y" * 64, channel="web")
        case, _ = await cases.open_case(
            session=session,
            user_id=young.id,
            channel="web",
            language="en",
            source="request",
            priority="normal",
        )
        assert await cases.claim(session=session, case_id=case.id, counsellor_id=counsellor.id)
    await add(sessions, "brian", "editor")
    async with sessions() as session:
        assert (await session.scalars(select(CaseDB.status))).all() == ["waiting"]
        kept = await accounts.counsellor_of(session=session, user_id=user_id)
        assert kept is not None and not kept.on_duty, "notes keep their author; no more alerts"
    await add(sessions, "brian", "counsellor")
    async with sessions() as session, session.begin():
        counsellor = await accounts.counsellor_of(session=session, user_id=user_id)
        assert counsellor is not None
        assert await cases.claim_next(session=session, counsellor_id=counsellor.id)
    async with sessions() as session, session.begin():
        assert await accounts.remove_user(session=session, username="brian")
        assert not await accounts.remove_user(session=session, username="brian")
    async with sessions() as session:
        assert (await session.scalars(select(CaseDB.status))).all() == ["waiting"]
        assert list(await session.scalars(select(CounsellorDB))) == []
        assert await accounts.list_users(session=session) == []


async def test_right_password_signs_in_and_records_the_time(sessions: Sessions) -> None:
    user_id = await add(sessions)
    user = await attempt(sessions, PASSWORD, T0, username=" Amina ")
    assert user is not None and user.id == user_id
    last_login = (await stored(sessions)).last_login_at
    assert last_login is not None and aware(last_login) == T0


async def test_an_old_hash_is_upgraded_at_the_next_login(sessions: Sessions) -> None:
    await add(sessions)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    async with sessions() as session, session.begin():
        await session.execute(update(WebUserDB).values(password_hash=weak))
    assert await attempt(sessions, PASSWORD, T0) is not None
    upgraded = (await stored(sessions)).password_hash
    assert upgraded != weak and "m=65536,t=3,p=4" in upgraded
    assert accounts.verify_password(upgraded, PASSWORD)


async def five_failures_lock_for_fifteen_minutes(sessions: Sessions) -> None:
    await add(sessions)
    for n in range(1, 5):
        assert await attempt(sessions, WRONG, T0 + timedelta(seconds=n)) is None
        assert (await stored(sessions)).failed_logins == n
    assert await attempt(sessions, WRONG, T0 + timedelta(seconds=5)) is None
    locked = await stored(sessions)
    assert locked.locked_until is not None
    assert aware(locked.locked_until) == T0 + timedelta(minutes=15, seconds=5)
    assert await attempt(sessions, PASSWORD, T0 + timedelta(minutes=1)) is None, "locked"
    assert await attempt(sessions, PASSWORD, T0 + timedelta(minutes=15)) is None, "still locked"
    assert await attempt(sessions, PASSWORD, T0 + timedelta(minutes=15, seconds=6)) is not None
    after = await stored(sessions)
    assert (after.failed_logins, after.locked_until) == (0, None)


async def test_five_failures_lock_the_account_for_fifteen_minutes(sessions: Sessions) -> None:
    await five_failures_lock_for_fifteen_minutes(sessions)


@pytest.mark.postgres
async def test_postgres_five_failures_lock_the_account(postgres_url: str) -> None:
    await upgrade(postgres_url)
    engine = create_engine(postgres_url)
    try:
        await five_failures_lock_for_fifteen_minutes(session_factory(engine))
    finally:
        await engine.dispose()


async def test_success_resets_the_count_of_failures(sessions: Sessions) -> None:
    await add(sessions)
    for _ in range(4):
        assert await attempt(sessions, WRONG, T0) is None
    assert await attempt(sessions, PASSWORD, T0) is not None
    assert (await stored(sessions)).failed_logins == 0
    for _ in range(4):
        assert await attempt(sessions, WRONG, T0) is None
    assert await attempt(sessions, PASSWORD, T0) is not None, "4 + 4 failures never made 5 in a row"


async def test_failures_count_in_one_session_too(sessions: Sessions) -> None:
    await add(sessions)
    async with sessions() as session, session.begin():
        for _ in range(5):
            assert not await accounts.authenticate(
                session=session, username="amina", password=WRONG, now=T0
            )
        user = await accounts.user_by_name(session=session, username="amina")
        assert user is not None and accounts.is_locked(user, now=T0)


async def test_an_unknown_user_gets_none_and_takes_as_long(sessions: Sessions) -> None:
    await add(sessions)
    await attempt(sessions, WRONG, T0, username="nobody")  # the dummy hash is made once
    started = time.perf_counter()
    assert await attempt(sessions, WRONG, T0) is None
    known = time.perf_counter() - started
    started = time.perf_counter()
    assert await attempt(sessions, PASSWORD, T0, username="nobody") is None
    unknown = time.perf_counter() - started
    assert await attempt(sessions, PASSWORD, T0, username="not a valid name!") is None
    assert unknown > known / 3, "an unknown name still checks a hash"
    assert (await stored(sessions)).failed_logins == 1


async def test_audit_rows_are_kept_newest_first(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await accounts.audit(session=session, actor="cli", action="user.add", target="user amina")
        await accounts.audit(
            session=session, actor="amina", action="case.claim", target="case 3", detail="x" * 900
        )
    async with sessions() as session:
        rows = await accounts.recent_audit(session=session)
        assert [(r.actor, r.action, r.target) for r in rows] == [
            ("amina", "case.claim", "case 3"),
            ("cli", "user.add", "user amina"),
        ]
        assert len(rows[0].detail) == 500 and rows[1].detail == ""
        assert rows[0].at is not None
        assert len(await accounts.recent_audit(session=session, limit=1)) == 1
