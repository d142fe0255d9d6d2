"""Start-up: migrate the database, load content, train or reuse the NLU model, build the engine."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import paths
from bot.config import Settings
from bot.content.render import Renderer
from bot.content.store import ContentStore, load_content
from bot.db.migrate import upgrade
from bot.db.session import create_engine, session_factory
from bot.dialogue.engine import DialogueEngine
from bot.safety import load_safety
from nlu.embedded import EmbeddedParser, train_or_load
from nlu.parser import Parser
from nlu.rasa import FallbackParser, RasaParser

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a channel needs to answer messages; close it on shutdown."""

    dialogue: DialogueEngine
    db: AsyncEngine
    content: ContentStore
    parser: Parser

    async def close(self) -> None:
        """Release database connections and the parser's HTTP client."""
        await self.db.dispose()
        if isinstance(self.parser, FallbackParser):
            await self.parser.close()


def build_parser(settings: Settings, model_path: Path = paths.EMBEDDED_MODEL) -> Parser:
    """The configured NLU backend; the embedded model is trained only when its data changed."""
    model, trained = train_or_load(paths.NLU_DATA_DIR, model_path, paths.NLU_CONFIG)
    log.info("embedded NLU model %s", "trained" if trained else "reused")
    embedded = EmbeddedParser(model)
    if settings.nlu_backend == "rasa":
        return FallbackParser(RasaParser(settings.rasa_url), embedded)
    return embedded


async def prepare(settings: Settings, *, content_dir: Path = paths.CONTENT_DIR) -> Runtime:
    """Bring the database schema up to date and assemble the dialogue engine."""
    started = time.perf_counter()
    await upgrade(settings.database_url)
    content = load_content(content_dir)
    parser = build_parser(settings)
    db = create_engine(settings.database_url)
    renderer = Renderer(content)
    dialogue = DialogueEngine(
        sessions=session_factory(db),
        parser=parser,
        content=content,
        renderer=renderer,
        safety=load_safety(content_dir / "safety", renderer),
    )
    log.info("ready in %.2f s", time.perf_counter() - started)
    return Runtime(dialogue=dialogue, db=db, content=content, parser=parser)
