"""Publishing content: how soon a second process serves it, and what reloading costs.

Two runtimes share one SQLite database (two "processes" in one event loop, each with its own
LiveContent polling every 2 s). Each round publishes a new English answer for hiv_prep through
the revision workflow in the first, then asks the second every 50 ms until its answer carries the
new text. Also times one reload (rebuilding the store from every published revision) and one
poll of the publish counter. Run: `.venv/bin/python bench/content.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.content import revisions
from bot.db.session import session_factory
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Inbound, InboundKind
from bot.runtime import prepare

SECRET = "bench-secret-0123456789"  # noqa: S105 - a benchmark key, not a credential
USER = "c" * 64


async def publish(sessions: async_sessionmaker[AsyncSession], text: str) -> None:
    """Edit, submit and approve a new English answer for hiv_prep."""
    async with sessions() as session, session.begin():
        body = dict((await revisions.published(session))["hiv_prep"].body)
        body["answer"] = {**body["answer"], "en": text}
        draft = await revisions.save_draft(
            session, item="hiv_prep", kind="topic", body=body, author="bench-editor"
        )
        await revisions.submit(session, item="hiv_prep", number=draft.number, actor="bench-editor")
        await revisions.approve(
            session,
            item="hiv_prep",
            number=draft.number,
            reviewer="bench-reviewer",
            today=date.today(),
        )


async def served(dialogue: DialogueEngine, ask: Inbound, marker: str) -> None:
    """Ask every 50 ms until the answer carries `marker` (give up after a minute)."""
    for _ in range(1200):
        if marker in (await dialogue.handle(ask))[0].text:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the published answer never arrived")


async def run(rounds: int, workdir: Path) -> dict[str, list[float]]:
    settings = Settings(healthbot_secret=SECRET, database_url=f"sqlite:///{workdir / 'c.db'}")
    first = await prepare(settings)
    second = await prepare(settings)
    ask = Inbound(USER, "telegram", InboundKind.BUTTON, payload="ask:hiv_prep")
    await second.dialogue.handle(ask)
    figures: dict[str, list[float]] = {"visible_s": [], "reload_ms": [], "poll_ms": []}
    for n in range(rounds):
        marker = f"Bench answer {n}: PrEP is a daily pill that prevents HIV."
        await publish(session_factory(first.db), marker)
        published = time.perf_counter()
        await served(second.dialogue, ask, marker)
        figures["visible_s"].append(time.perf_counter() - published)
    for _ in range(rounds * 5):
        second.live.version = -1  # force a full rebuild
        t = time.perf_counter()
        await second.live.refresh(force=True)
        figures["reload_ms"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await second.live.refresh(force=True)  # counter unchanged: one query
        figures["poll_ms"].append((time.perf_counter() - t) * 1000)
    await first.close()
    await second.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(run(args.rounds, Path(folder)))
    seen = figures["visible_s"]
    print(f"rounds: {args.rounds}")
    print(
        f"publish → served by the other process: median {statistics.median(seen):.2f} s, "
        f"max {max(seen):.2f} s"
    )
    reload_ms = statistics.median(figures["reload_ms"])
    print(f"full reload (every published item): median {reload_ms:.2f} ms")
    print(f"poll of the publish counter: median {statistics.median(figures['poll_ms']):.3f} ms")


if __name__ == "__main__":
    main()
