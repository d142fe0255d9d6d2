"""Prometheus metrics: what came in, what went out, how long it took, what failed.

Counters carry no user, chat or text: only kinds, categories, backends and exception types.
Queue figures are read from the database when /metrics is scraped, so every process reports
the same shared queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CaseDB, as_utc, utcnow
from nlu.embedded import EmbeddedParser
from nlu.parser import Parser
from nlu.rasa import FallbackParser

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

UPDATES = Counter(
    "healthbot_updates", "Telegram updates received, by kind", ["kind"]
)  # message, command, media, callback, edited, other
WEBHOOK = Counter(
    "healthbot_webhook_requests", "Webhook requests answered, by outcome", ["outcome"]
)  # handled, duplicate, bad_update, forbidden, bad_request, too_large, unavailable
MESSAGES = Counter(
    "healthbot_messages", "Messages the dialogue engine answered, by channel", ["channel"]
)
REPLIES = Counter(
    "healthbot_replies", "Replies the dialogue engine produced, by channel", ["channel"]
)
TURN_SECONDS = Histogram(
    "healthbot_turn_seconds",
    "Time the dialogue engine took to answer one message",
    buckets=LATENCY_BUCKETS,
)
UPDATE_SECONDS = Histogram(
    "healthbot_update_seconds",
    "Time from a Telegram update received to its replies sent",
    buckets=LATENCY_BUCKETS,
)
CRISIS = Counter("healthbot_crisis_events", "Crisis messages answered, by category", ["category"])
ERRORS = Counter("healthbot_errors", "Errors handled, by exception type", ["type"])
QUEUE_CASES = Gauge(
    "healthbot_queue_cases", "Cases waiting for a counsellor, by priority", ["priority"]
)
QUEUE_WAIT = Gauge(
    "healthbot_queue_oldest_wait_seconds",
    "How long the longest-waiting case has waited, by priority",
    ["priority"],
)
PRIORITIES = ("urgent", "high", "normal")


def error(exc: BaseException) -> None:
    """Count an error by its exception type (never its message, which may quote data)."""
    ERRORS.labels(type=type(exc).__name__).inc()


async def refresh_queue(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Read the queue's length and oldest wait, per priority, from the database."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(CaseDB.priority, func.count(), func.min(CaseDB.opened_at))
                .where(CaseDB.status == "waiting")
                .group_by(CaseDB.priority)
            )
        ).all()
    now = utcnow()
    seen = {priority: (count, oldest) for priority, count, oldest in rows}
    for priority in sorted({*PRIORITIES, *seen}):
        count, oldest = seen.get(priority, (0, None))
        QUEUE_CASES.labels(priority=priority).set(count)
        QUEUE_WAIT.labels(priority=priority).set(_seconds_since(oldest, now))


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return 0.0 if moment is None else max(0.0, (now - as_utc(moment)).total_seconds())


class NluCollector(Collector):
    """Messages parsed by each NLU backend, read from the parser's own counters at scrape time."""

    def __init__(self, parser: Parser) -> None:
        self._parser = parser

    def collect(self) -> Iterator[CounterMetricFamily]:
        """`healthbot_nlu_parses_total{backend}`: embedded, rasa, or embedded_fallback."""
        family = CounterMetricFamily(
            "healthbot_nlu_parses",
            "Messages parsed, by the NLU backend that answered",
            labels=["backend"],
        )
        parser = self._parser
        if isinstance(parser, FallbackParser):
            family.add_metric(["rasa"], parser.remote)
            family.add_metric(["embedded_fallback"], parser.fallbacks)
        elif isinstance(parser, EmbeddedParser):
            family.add_metric(["embedded"], parser.parses)
        yield family


def watch_parser(parser: Parser, registry: CollectorRegistry = REGISTRY) -> None:
    """Report `parser`'s counts in /metrics (once per process: the last parser wins)."""
    global _nlu_collector
    if _nlu_collector is not None:
        registry.unregister(_nlu_collector)
    _nlu_collector = NluCollector(parser)
    registry.register(_nlu_collector)


_nlu_collector: NluCollector | None = None
