"""Start-up: migrate the database, load content, train or reuse the NLU model, build the engine."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import paths
from bot.cases.staff import STAFF_REFRESH_S
from bot.config import Settings
from bot.content.live import LiveContent
from bot.content.render import Renderer
from bot.content.store import ContentStore, load_content
from bot.content.sync import import_files
from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.dialogue.counsellor import Desk, DeskSettings
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.referral import Referral
from bot.referral.directory import Directory
from bot.referral.places import Gazetteer
from bot.safety import load_safety
from nlu import crisis_model
from nlu.crisis_model import CrisisModel
from nlu.detector import CrisisDetector
from nlu.embedded import EmbeddedParser, train, train_or_load
from nlu.examples import raw_examples, training_data_with
from nlu.parser import Parser
from nlu.rasa import FallbackParser, RasaParser
from nlu.safety import SafetyRules

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a channel needs to answer messages; close it on shutdown."""

    dialogue: DialogueEngine
    db: AsyncEngine
    content: ContentStore
    parser: Parser
    live: LiveContent
    desk: Desk
    sessions: async_sessionmaker[AsyncSession]

    async def close(self) -> None:
        """Write what waits to be written, release database connections and the parser's
        HTTP client."""
        await self.dialogue.write_unlinked()
        await self.db.dispose()
        if isinstance(self.parser, FallbackParser):
            await self.parser.close()


GC_THRESHOLDS = (50_000, 20, 100)  # Python's are (700, 10, 10)


def settle_memory() -> None:
    """After start-up: move what start-up made (content, models, code) out of the collector's
    sight and collect less often. What a turn allocates dies young; re-scanning the long-lived
    heap on every collection cost a worker about 3 % under load (bench/load, three pairs)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def build_parser(settings: Settings, model_path: Path = paths.EMBEDDED_MODEL) -> Parser:
    """The configured NLU backend; the embedded model is trained only when its data changed."""
    model, trained = train_or_load(paths.NLU_DATA_DIR, model_path, paths.NLU_CONFIG)
    log.info("embedded NLU model %s", "trained" if trained else "reused")
    embedded = EmbeddedParser(model)
    if settings.nlu_backend == "rasa":
        return FallbackParser(RasaParser(settings.rasa_url, token=settings.rasa_token), embedded)
    return embedded


class ExampleTrainer:
    """Retrains the embedded parser when the published training examples differ from the files.

    Training takes a few seconds, in a thread; the old model answers until the new one is in.
    """

    def __init__(self, parser: Parser, data_dir: Path = paths.NLU_DATA_DIR) -> None:
        self._parser = _embedded(parser)
        self._data_dir = data_dir
        self._files = raw_examples(data_dir)
        self._applied: dict[str, list[str]] = {}

    async def __call__(self, published: dict[str, list[str]]) -> None:
        """Retrain with the published examples that differ from the files' (if any changed)."""
        overrides = {
            intent: lines
            for intent, lines in published.items()
            if lines and lines != self._files.get(intent, [])
        }
        if self._parser is None or overrides == self._applied:
            return
        self._applied = overrides
        data = training_data_with(self._data_dir, overrides)
        model = await asyncio.to_thread(train, data, "console")
        self._parser.use(model)
        log.info("embedded NLU retrained with edited examples for %d intent(s)", len(overrides))


def _embedded(parser: Parser) -> EmbeddedParser | None:
    if isinstance(parser, EmbeddedParser):
        return parser
    if isinstance(parser, FallbackParser):
        return parser.fallback
    return None


def build_crisis_model(
    rules_path: Path = paths.SAFETY_RULES, model_path: Path = paths.CRISIS_MODEL
) -> CrisisModel | None:
    """The crisis classifier (trained only when its inputs changed); None if that fails.

    The rules answer crises on their own, so a missing classifier is logged, never fatal.
    """
    try:
        model, trained = crisis_model.train_or_load(
            paths.NLU_DATA_DIR, paths.CRISIS_TUNING_DIR, rules_path, model_path
        )
    except Exception:
        log.exception("crisis classifier unavailable: the crisis rules work alone")
        return None
    log.info("crisis classifier %s", "trained" if trained else "reused")
    return CrisisModel(model)


def build_detector() -> CrisisDetector:
    """The crisis rules and classifier, as the bot uses them (for the command line)."""
    return CrisisDetector(SafetyRules.load(paths.SAFETY_RULES), build_crisis_model())


def build_desk(settings: Settings, renderer: Renderer) -> Desk:
    """The counsellor desk with its settings."""
    return Desk(
        DeskSettings(
            secret=settings.healthbot_secret,
            hours=settings.counsellor_hours,
            realert_after=timedelta(minutes=settings.case_realert_minutes),
        ),
        renderer,
    )


async def prepare(
    settings: Settings, *, content_dir: Path = paths.CONTENT_DIR, ping_on_checkout: bool = False
) -> Runtime:
    """Bring the database schema up to date and assemble the dialogue engine.

    `ping_on_checkout` tests each pooled PostgreSQL connection before use (three round trips),
    for the console. The bot goes without: after a database restart the first statement fails,
    which makes SQLAlchemy replace every pooled connection, and the update it served is answered
    503 and delivered again by Telegram.
    """
    started = time.perf_counter()
    # A no-op when the schema is current, as it is when compose's `migrate` ran first: the app
    # role (DATABASE_URL) may not change the schema; MIGRATION_DATABASE_URL's role owns it.
    await upgrade(settings.migration_url)
    content = load_content(content_dir)
    parser = build_parser(settings)
    db = create_engine(settings.database_url, pool_pre_ping=ping_on_checkout)
    renderer = Renderer(content)
    services = content_dir / "services"
    referral = Referral(Directory.load(services), Gazetteer.load(services / "places.tsv"), renderer)
    sessions = session_factory(db)
    report = await import_files(sessions, content_dir, paths.NLU_DATA_DIR, store=content)
    if report.imported:
        log.info("content imported from files: %d item(s)", len(report.imported))
    if report.conflicts:
        log.warning(
            "content changed in the files and in the console; the console's is served: %s "
            "(healthbot content import --force lets the files win)",
            ", ".join(report.conflicts),
        )
    live = LiveContent(content, renderer, sessions, on_examples=ExampleTrainer(parser))
    await live.refresh(force=True)
    desk = build_desk(settings, renderer)
    dialogue = DialogueEngine(
        sessions=sessions,
        parser=parser,
        content=content,
        renderer=renderer,
        safety=load_safety(
            content_dir / "safety",
            renderer,
            build_crisis_model(content_dir / "safety" / "rules.yml"),
        ),
        referral=referral,
        desk=desk,
        live=live,
        retention_days=settings.retention_days,
        staff_refresh_s=STAFF_REFRESH_S,
    )
    log.info("ready in %.2f s", time.perf_counter() - started)
    return Runtime(
        dialogue=dialogue,
        db=db,
        content=content,
        parser=parser,
        live=live,
        desk=desk,
        sessions=sessions,
    )
