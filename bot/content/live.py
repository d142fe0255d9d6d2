"""The content the bot serves: the files, overlaid with the published revisions, kept fresh.

Every process (bot, web console, web chat) holds a `LiveContent`. It polls the publish counter at
most every `interval` seconds (one tiny query) and, when the counter moved, rebuilds its store from
the published revisions and points the shared `Renderer` at it. A revision whose training examples
differ from what the parser was trained on is handed to `on_examples`, in a background task (the
runtime retrains the embedded parser in a thread and swaps the model in; the old one answers until
then).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import revisions
from bot.content.render import Renderer
from bot.content.schema import ConversationItem, TopicItem
from bot.content.store import ContentStore

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 2.0
ExamplesHook = Callable[[dict[str, list[str]]], Coroutine[Any, Any, None]]


def file_items(
    store: ContentStore, examples: Mapping[str, list[str]]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The items of `content/` as revision bodies (item → (kind, body)), with their examples."""
    items: dict[str, tuple[str, dict[str, Any]]] = {}
    for intent, topic in store.topics.items():
        items[intent] = ("topic", revisions.body_of(topic, examples.get(intent, [])))
    for intent, reply in store.conversation.items():
        items[intent] = ("conversation", revisions.body_of(reply, examples.get(intent, [])))
    return items


def overlay(
    base: ContentStore, bodies: Mapping[str, tuple[str, Mapping[str, Any]]]
) -> ContentStore:
    """`base` with each item replaced by its published body (an invalid body is skipped, logged)."""
    topics = dict(base.topics)
    conversation = dict(base.conversation)
    for item, (kind, body) in bodies.items():
        try:
            parsed = revisions.item_of(kind, body)
        except ValidationError:
            log.error("published revision of %s does not load; the file's version is served", item)
            continue
        if isinstance(parsed, TopicItem):
            topics[item] = parsed
        elif isinstance(parsed, ConversationItem):
            conversation[item] = parsed
    return dataclasses.replace(base, topics=topics, conversation=conversation)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("retraining with published examples failed", exc_info=task.exception())


class LiveContent:
    """The published content and the revision number of each item, reloaded when published."""

    def __init__(
        self,
        base: ContentStore,
        renderer: Renderer,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval: float = RELOAD_INTERVAL_S,
        on_examples: ExamplesHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.store = base
        self.revisions: dict[str, int] = {}
        self.version = -1
        self._renderer = renderer
        self._sessions = sessions
        self._interval = interval
        self._on_examples = on_examples
        self._clock = clock
        self._checked_at = float("-inf")
        self._examples: dict[str, list[str]] | None = None
        self.retraining: asyncio.Task[None] | None = None

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if the publish counter moved; checked at most once per interval unless forced.

        Returns whether the content changed. A database error keeps the current content.
        """
        now = self._clock()
        if not force and now - self._checked_at < self._interval:
            return False
        self._checked_at = now
        try:
            async with self._sessions() as session:
                version = await revisions.content_version(session)
                if version == self.version:
                    return False
                rows = await revisions.published(session)
        except Exception:
            log.warning("content reload skipped: database unavailable", exc_info=True)
            return False
        self.store = overlay(self.base, {r.item: (r.kind, r.body) for r in rows.values()})
        self.revisions = {item: row.number for item, row in rows.items()}
        self._renderer.use(self.store)
        self.version = version
        log.info("content version %d loaded (%d published items)", version, len(rows))
        examples = {item: revisions.examples_of(row.body) for item, row in rows.items()}
        if self._on_examples is not None and examples != self._examples:
            self._examples = examples
            self._retrain(self._on_examples(examples))
        return True

    def _retrain(self, work: Coroutine[Any, Any, None]) -> None:
        """Run the examples hook in the background: no young person waits for a retraining."""
        previous = self.retraining
        if previous is not None and not previous.done():
            previous.cancel()  # a newer publish supersedes it (the thread itself runs to its end)
        self.retraining = asyncio.create_task(work)
        self.retraining.add_done_callback(_log_failure)
