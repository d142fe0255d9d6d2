"""Shared fixtures: a trained model (once), migrated databases, the content and the engine."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import paths
from bot.config import DEFAULT_RETENTION_DAYS, Settings
from bot.content.live import LiveContent
from bot.content.render import Renderer
from bot.content.store import ContentStore, load_content
from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.dialogue.counsellor import Desk, DeskSettings
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.referral import Referral
from bot.referral.directory import Directory
from bot.referral.places import Gazetteer
from bot.safety import SafetyService, load_safety
from nlu import crisis_model as crisis_training
from nlu.crisis_model import CrisisModel
from nlu.embedded import EmbeddedModel, EmbeddedParser, train_or_load
from nlu.parser import Parser

T = TypeVar("T")
SECRET = "test-secret-0123456789abcdef"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Counsellors answer 08:00-20:00 in the tests, and the tests' clock says 12:00 in Nairobi.
DESK_SETTINGS = DeskSettings(SECRET, (time(8, 0), time(20, 0)), timedelta(minutes=5))
MIDDAY_IN_NAIROBI = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def run_in_new_loop(coroutine: Coroutine[object, object, T]) -> T:
    """Run a coroutine from synchronous code without touching pytest-asyncio's current loop."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


@pytest.fixture(scope="session")
def content() -> ContentStore:
    return load_content(paths.CONTENT_DIR)


@pytest.fixture(scope="session")
def renderer(content: ContentStore) -> Renderer:
    return Renderer(content)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded model trained once for the whole session, as a file."""
    path = tmp_path_factory.mktemp("nlu") / "embedded.pkl"
    train_or_load(paths.NLU_DATA_DIR, path, paths.NLU_CONFIG)
    return path


@pytest.fixture(scope="session")
def model(model_path: Path) -> EmbeddedModel:
    loaded, trained = train_or_load(paths.NLU_DATA_DIR, model_path, paths.NLU_CONFIG)
    assert not trained
    return loaded


@pytest.fixture(scope="session")
def parser(model: EmbeddedModel) -> EmbeddedParser:
    return EmbeddedParser(model)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    run_in_new_loop(upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A freshly migrated SQLite database of this test's own."""
    path = tmp_path / "healthbot.db"
    shutil.copy(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(
        healthbot_secret=SECRET,
        telegram_bot_token="123456:TEST-TOKEN",
        telegram_api_base_url="http://127.0.0.1:9/bot",
        database_url=sqlite_url,
    )


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db)


_SAFETY: dict[int, SafetyService] = {}
_REFERRAL: dict[int, Referral] = {}
_CRISIS_MODEL: list[CrisisModel] = []


@pytest.fixture(scope="session")
def crisis_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crisis classifier trained once for the whole session, as a file."""
    path = tmp_path_factory.mktemp("crisis") / "crisis.pkl"
    crisis_training.train_or_load(
        paths.NLU_DATA_DIR, paths.CRISIS_TUNING_DIR, paths.SAFETY_RULES, path
    )
    return path


@pytest.fixture(scope="session", autouse=True)
def crisis_model(crisis_model_path: Path) -> CrisisModel:
    """The crisis classifier every engine in the tests uses, as the bot does."""
    model, trained = crisis_training.train_or_load(
        paths.NLU_DATA_DIR, paths.CRISIS_TUNING_DIR, paths.SAFETY_RULES, crisis_model_path
    )
    assert not trained
    _CRISIS_MODEL[:] = [CrisisModel(model)]
    return _CRISIS_MODEL[0]


def _safety(content: ContentStore) -> SafetyService:
    """The safety service as the bot runs it, loaded once per content store."""
    if id(content) not in _SAFETY:
        _SAFETY[id(content)] = load_safety(
            paths.CONTENT_DIR / "safety", Renderer(content), _CRISIS_MODEL[0]
        )
    return _SAFETY[id(content)]


def _referral(content: ContentStore) -> Referral:
    """The facility directory and gazetteer from the committed data, loaded once."""
    if id(content) not in _REFERRAL:
        services = paths.CONTENT_DIR / "services"
        _REFERRAL[id(content)] = Referral(
            Directory.load(services), Gazetteer.load(services / "places.tsv"), Renderer(content)
        )
    return _REFERRAL[id(content)]


def make_engine(
    sessions: async_sessionmaker[AsyncSession],
    parser: Parser,
    content: ContentStore,
    *,
    live: bool = False,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    now: datetime = MIDDAY_IN_NAIROBI,
) -> DialogueEngine:
    """The engine as the bot builds it; with `live`, it serves published revisions (reloaded
    from the database whenever something is published). `now` is the desk's clock (hours)."""
    renderer = Renderer(content)
    return DialogueEngine(
        sessions=sessions,
        parser=parser,
        content=content,
        renderer=renderer,
        safety=_safety(content),
        referral=_referral(content),
        desk=Desk(DESK_SETTINGS, renderer, clock=lambda: now),
        live=LiveContent(content, renderer, sessions, interval=0.0) if live else None,
        retention_days=retention_days,
    )


@pytest.fixture
def engine(
    sessions: async_sessionmaker[AsyncSession], parser: EmbeddedParser, content: ContentStore
) -> DialogueEngine:
    return make_engine(sessions, parser, content)


@pytest.fixture
async def engine_without_database(
    parser: EmbeddedParser, content: ContentStore
) -> AsyncIterator[DialogueEngine]:
    """An engine whose database cannot be opened (its folder does not exist)."""
    broken = create_engine("sqlite:////nonexistent-dir/none/x.db")
    yield make_engine(session_factory(broken), parser, content)
    await broken.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (dropped after). Fails if PG is down.

    Synchronous, with its own event loop, so that synchronous tests (the end-to-end ones) can use
    it too: an async fixture in a sync test left pytest-asyncio's loop unclosed, and the
    ResourceWarning failed whichever later test the collector happened to run in.
    """
    name = f"healthbot_test_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(POSTGRES_URL)
    dsn = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    run_in_new_loop(run(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    run_in_new_loop(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def project_root() -> Iterator[Path]:
    yield paths.PROJECT_ROOT
