"""Web console accounts and the audit log, as keyword-only functions on an open session.

None of them commits: the caller owns the transaction. Passwords are hashed with argon2id
(argon2-cffi's defaults, RFC 9106's low-memory profile). Failed logins are counted in the database,
so every process of the console sees the same count: 5 in a row lock the account for 15 minutes.
Hashing takes a fraction of a second of CPU, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case as case_when
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import repository as cases
from bot.db.models import AuditDB, CounsellorDB, WebUserDB, utcnow

ROLES = ("counsellor", "editor", "reviewer", "admin")
USERNAME = re.compile(r"[a-z0-9_.-]{3,64}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
_HASHER = PasswordHasher()


# passwords ------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash of the password, with its salt and parameters."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash; False for a malformed hash too."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return hash_password("no such user: a dummy password")


def _verify_dummy(password: str) -> None:
    verify_password(_dummy_hash(), password)


# accounts -------------------------------------------------------------------------------------


def validate_user(*, username: str, password: str, role: str) -> None:
    """Raise ValueError, in one clear sentence, unless the three make a valid account."""
    if not USERNAME.fullmatch(username):
        raise ValueError(
            "A username needs 3 to 64 characters: lowercase letters, digits, '_', '.' or '-'."
        )
    if role not in ROLES:
        raise ValueError(f"The role must be one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"The password needs at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"The password may have at most {MAX_PASSWORD} characters.")


async def add_user(*, session: AsyncSession, username: str, password: str, role: str) -> WebUserDB:
    """Create an account, or give an existing one this password and role (and unlock it).

    Giving an existing account a password or role ends every console session it has (its
    session version goes up). A counsellor also gets a counsellor record linked to the account
    (named after it, off duty); a counsellor who gets another role goes off duty and their
    active case back to the queue.
    """
    validate_user(username=username, password=password, role=role)
    password_hash = await asyncio.to_thread(hash_password, password)
    user = await user_by_name(session=session, username=username)
    if user is None:
        user = WebUserDB(username=username, created_at=utcnow())
        session.add(user)
    else:
        user.session_version += 1  # a new password or role: every old cookie is refused
    user.password_hash = password_hash
    user.role = role
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()
    counsellor = await counsellor_of(session=session, user_id=user.id)
    if role == "counsellor" and counsellor is None:
        session.add(
            CounsellorDB(web_user_id=user.id, name=username, on_duty=False, created_at=utcnow())
        )
        await session.flush()
    elif role != "counsellor" and counsellor is not None:
        await _stand_down(session, counsellor)
    return user


async def remove_user(*, session: AsyncSession, username: str) -> bool:
    """Delete an account (and its counsellor record, whose active case goes back to the queue)."""
    user = await user_by_name(session=session, username=username)
    if user is None:
        return False
    counsellor = await counsellor_of(session=session, user_id=user.id)
    if counsellor is not None:
        await _stand_down(session, counsellor)
        await session.delete(counsellor)
    await session.delete(user)
    await session.flush()
    return True


async def end_sessions(*, session: AsyncSession, user_id: int, version: int) -> None:
    """Refuse every console cookie this account holds (its session version goes up), if
    `version` is still current: a cookie already refused cannot sign anyone else out."""
    await session.execute(
        update(WebUserDB)
        .where(WebUserDB.id == user_id, WebUserDB.session_version == version)
        .values(session_version=WebUserDB.session_version + 1)
        .execution_options(synchronize_session=False)
    )


async def list_users(*, session: AsyncSession) -> list[WebUserDB]:
    """Every account, by username."""
    return list(await session.scalars(select(WebUserDB).order_by(WebUserDB.username)))


async def user_by_id(*, session: AsyncSession, user_id: int) -> WebUserDB | None:
    """The account with this id, if it still exists."""
    return await session.get(WebUserDB, user_id)


async def user_by_name(*, session: AsyncSession, username: str) -> WebUserDB | None:
    """The account with this username, if any."""
    return await session.scalar(select(WebUserDB).where(WebUserDB.username == username))


async def counsellor_of(*, session: AsyncSession, user_id: int) -> CounsellorDB | None:
    """The counsellor record linked to this account, if any."""
    return await session.scalar(select(CounsellorDB).where(CounsellorDB.web_user_id == user_id))


async def _stand_down(session: AsyncSession, counsellor: CounsellorDB) -> None:
    """Take a counsellor off duty and put their active case back in the queue."""
    active = await cases.active_case_of_counsellor(session=session, counsellor_id=counsellor.id)
    if active is not None:
        await cases.transfer(session=session, case_id=active.id, counsellor_id=counsellor.id)
    counsellor.on_duty = False
    await session.flush()


# signing in -----------------------------------------------------------------------------------


async def authenticate(
    *, session: AsyncSession, username: str, password: str, now: datetime
) -> WebUserDB | None:
    """The account if the password is right and it is not locked; otherwise None.

    Usernames are matched in lowercase. Every attempt checks one argon2 hash (a dummy one for an
    unknown username, the real one while locked), so timing tells nobody which usernames exist.
    """
    name = username.strip().lower()
    user = await user_by_name(session=session, username=name) if USERNAME.fullmatch(name) else None
    if user is None:
        await asyncio.to_thread(_verify_dummy, password)
        return None
    right = await asyncio.to_thread(verify_password, user.password_hash, password)
    if is_locked(user, now=now):
        return None
    if not right:
        await _count_failure(session, user, now)
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = _utc(now)
    await session.flush()
    return user


def is_locked(user: WebUserDB, *, now: datetime) -> bool:
    """Whether too many failed logins keep this account locked at `now`."""
    return user.locked_until is not None and _utc(user.locked_until) > _utc(now)


async def _count_failure(session: AsyncSession, user: WebUserDB, now: datetime) -> None:
    """One more failure in a row, in one UPDATE (safe across processes); the 5th locks."""
    locks = WebUserDB.failed_logins + 1 >= MAX_FAILURES
    await session.execute(
        update(WebUserDB)
        .where(WebUserDB.id == user.id)
        .values(
            failed_logins=case_when((locks, 0), else_=WebUserDB.failed_logins + 1),
            locked_until=case_when((locks, _utc(now) + LOCK_FOR), else_=WebUserDB.locked_until),
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(user)


def _utc(moment: datetime) -> datetime:
    """Aware, in UTC (SQLite hands back naive UTC times)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# audit log ------------------------------------------------------------------------------------


async def audit(
    *, session: AsyncSession, actor: str, action: str, target: str, detail: str = ""
) -> AuditDB:
    """Append who did what to what; never put a young person's words or ids in `detail`."""
    row = AuditDB(
        at=utcnow(), actor=actor[:64], action=action[:64], target=target[:128], detail=detail[:500]
    )
    session.add(row)
    await session.flush()
    return row


async def recent_audit(*, session: AsyncSession, limit: int = 100) -> list[AuditDB]:
    """The latest audit rows, newest first."""
    return list(
        await session.scalars(
            select(AuditDB).order_by(AuditDB.at.desc(), AuditDB.id.desc()).limit(limit)
        )
    )
