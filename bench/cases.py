"""Counsellor cases, in-process: time from a young person's request to the counsellor's alert,
and relay latency each way, through the dialogue engine on SQLite (file, WAL).

Each round: a new young person asks for a counsellor (the alert to the on-duty counsellor is in
the replies of that same turn), the counsellor takes the case, then three messages go each way,
then the case is closed. Run: `.venv/bin/python bench/cases.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.cases.repository import add_counsellor, set_duty
from bot.config import Settings
from bot.db.session import session_factory
from bot.dialogue.messages import Inbound, InboundKind
from bot.privacy import pseudonymise
from bot.runtime import prepare

SECRET = "bench-secret-0123456789"  # noqa: S105 - a benchmark key, not a credential
STAFF = "telegram:900001"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run(rounds: int, workdir: Path) -> dict[str, list[float]]:
    settings = Settings(
        healthbot_secret=SECRET,
        database_url=f"sqlite:///{workdir / 'cases.db'}",
        counsellor_hours=(clock(0, 0), clock.max),  # all day: this times the path, not the hours
    )
    runtime = await prepare(settings)
    engine = runtime.dialogue
    async with session_factory(runtime.db)() as session, session.begin():
        counsellor = await add_counsellor(session=session, telegram_id=900001, name="Bench")
        await set_duty(session=session, counsellor_id=counsellor.id, on_duty=True)
    figures: dict[str, list[float]] = {"alert": [], "to_counsellor": [], "to_young": []}
    for i in range(rounds):
        user = pseudonymise(SECRET, "telegram", 5000 + i)
        young = f"telegram:{5000 + i}"

        def inbound(kind: InboundKind, **values: str) -> Inbound:
            return Inbound(user, "telegram", kind, address=young, **values)  # noqa: B023

        def staff(kind: InboundKind, **values: str) -> Inbound:
            return Inbound("s" * 64, "telegram", kind, address=STAFF, **values)

        started = time.perf_counter()
        replies = await engine.handle(inbound(InboundKind.BUTTON, payload="ask:talk_to_counsellor"))
        figures["alert"].append((time.perf_counter() - started) * 1000)
        assert any(r.to == STAFF for r in replies), "no alert"
        await engine.handle(staff(InboundKind.COMMAND, command="next"))
        for n in range(3):
            started = time.perf_counter()
            [relayed] = await engine.handle(inbound(InboundKind.TEXT, text=f"school is hard {n}"))
            figures["to_counsellor"].append((time.perf_counter() - started) * 1000)
            assert relayed.to == STAFF
            started = time.perf_counter()
            [answer] = await engine.handle(staff(InboundKind.TEXT, text=f"tell me more {n}"))
            figures["to_young"].append((time.perf_counter() - started) * 1000)
            assert answer.to == young
        await engine.handle(staff(InboundKind.COMMAND, command="close", text="done"))
    await runtime.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(args.rounds, Path(tmp)))
    for name, label in (
        ("alert", "request → counsellor alert"),
        ("to_counsellor", "relay young → counsellor"),
        ("to_young", "relay counsellor → young"),
    ):
        values = figures[name]
        print(
            f"{label:28} p50 {statistics.median(values):.2f} ms   "
            f"p99 {percentile(values, 99):.2f} ms   (n={len(values)})"
        )


if __name__ == "__main__":
    main()
