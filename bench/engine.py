"""1,000 mixed messages through the dialogue engine, in-process: embedded parser, SQLite.

Prints per-message latency (p50/p99), throughput, NLU parse time alone, peak RSS, and the time
from launching `healthbot chat` to its first reply. Run with `make bench` or
`.venv/bin/python bench/engine.py [--messages N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import paths
from bot.config import Settings
from bot.dialogue.messages import Inbound, InboundKind
from bot.privacy import pseudonymise
from bot.runtime import prepare
from nlu.detector import CrisisDetector
from nlu.embedded import EmbeddedParser, train_or_load

TEXTS = [
    "hi",
    "niaje msee",
    "how do i get tested for hiv",
    "nataka kupima ukimwi",
    "what is prep",
    "condom burst last night and im scared",
    "hw do i use p2 pls",
    "nimechoka na shule",
    "i feel so sad and empty every day",
    "where can I get PrEP in Kisumu",
    "asante sana",
    "who won the match",
    "are you a bot",
    "periods zangu hazikuji",
    "qwzx vbnm",
    "😀😀",
    "is it true you can get hiv from kissing",
    "family planning inaweza kunifanya nisizae?",
    "my boyfriend forces me to have sex",
    "bye",
]
BUTTONS = [
    "menu",
    "topic:hiv",
    "ask:hiv_testing",
    "more:hiv_prep",
    "topic:mental_health",
    "lang:sw",
]
COMMANDS = ["start", "menu", "help", "privacy"]
CRISIS_TEXTS = [
    "nataka kujiua",
    "I was raped",
    "this exam is killing me",
    "im thinking of ending things",
]
LONG_TEXT = ("nimechoka na shule na exams manze. " * 130)[:4096]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def workload(count: int, users: int, seed: int = 7) -> list[Inbound]:
    rng = random.Random(seed)
    ids = [pseudonymise("bench-secret-0123456789", "telegram", 1000 + i) for i in range(users)]
    messages = []
    for _ in range(count):
        user, roll = rng.choice(ids), rng.random()
        if roll < 0.7:
            messages.append(Inbound(user, "telegram", InboundKind.TEXT, text=rng.choice(TEXTS)))
        elif roll < 0.9:
            messages.append(
                Inbound(user, "telegram", InboundKind.BUTTON, payload=rng.choice(BUTTONS))
            )
        else:
            messages.append(
                Inbound(user, "telegram", InboundKind.COMMAND, command=rng.choice(COMMANDS))
            )
    return messages


async def run_engine(count: int, users: int, workdir: Path) -> dict[str, float]:
    settings = Settings(
        healthbot_secret="bench-secret-0123456789",
        database_url=f"sqlite:///{workdir / 'bench.db'}",
    )
    started = time.perf_counter()
    runtime = await prepare(settings)
    ready = time.perf_counter() - started
    messages = workload(count, users)
    for inbound in messages[:20]:  # warm-up
        await runtime.dialogue.handle(inbound)
    latencies = []
    wall = time.perf_counter()
    for inbound in messages:
        t = time.perf_counter()
        await runtime.dialogue.handle(inbound)
        latencies.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - wall
    detector = runtime.dialogue.safety.detector
    everyday = crisis_check_times(detector, 5000, [*TEXTS, *CRISIS_TEXTS])
    longest = crisis_check_times(detector, 200, [LONG_TEXT])
    await runtime.close()
    return {
        "crisis_p50_ms": statistics.median(everyday),
        "crisis_p99_ms": percentile(everyday, 99),
        "crisis_long_p50_ms": statistics.median(longest),
        "crisis_long_p99_ms": percentile(longest, 99),
        "prepare_s": ready,
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "per_s": count / elapsed,
    }


def parse_times(count: int) -> tuple[float, float]:
    model, _ = train_or_load(paths.NLU_DATA_DIR, paths.EMBEDDED_MODEL, paths.NLU_CONFIG)
    parser = EmbeddedParser(model)
    times = []
    for i in range(count):
        text = TEXTS[i % len(TEXTS)]
        t = time.perf_counter()
        parser.parse_sync(text)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), percentile(times, 99)


def crisis_check_times(detector: CrisisDetector, count: int, texts: list[str]) -> list[float]:
    """The crisis check before parsing (rules and classifier), as the engine runs it."""
    from nlu.safety import normalise

    times = []
    for i in range(count):
        normalise.cache_clear()  # a real message is new: no cached normalisation
        t = time.perf_counter()
        detector.check(texts[i % len(texts)])
        times.append((time.perf_counter() - t) * 1000)
    return times


def startup_seconds(workdir: Path, runs: int) -> float:
    """Launch `healthbot chat` and time until its first reply is printed."""
    env = {
        **os.environ,
        "HEALTHBOT_SECRET": "bench-secret-0123456789",
        "DATABASE_URL": f"sqlite:///{workdir / 'startup.db'}",
        "LOG_LEVEL": "WARNING",
    }
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "chat"],
            env=env,
            cwd=Path.cwd(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None and process.stdin is not None
        while "[1]" not in process.stdout.readline():
            pass
        times.append(time.perf_counter() - t)
        process.stdin.write("/quit\n")
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--startup-runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures = asyncio.run(run_engine(args.messages, args.users, workdir))
        parse_p50, parse_p99 = parse_times(5000)
        startup = startup_seconds(workdir, args.startup_runs)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mix = "70% text, 20% buttons, 10% commands"
    print(f"messages            {args.messages} from {args.users} users ({mix})")
    p50, p99, worst = figures["p50_ms"], figures["p99_ms"], figures["max_ms"]
    print(f"engine latency      p50 {p50:.2f} ms   p99 {p99:.2f} ms   max {worst:.2f} ms")
    print(f"throughput          {figures['per_s']:.0f} messages/s (sequential, one process)")
    print(f"NLU parse alone     p50 {parse_p50:.3f} ms   p99 {parse_p99:.3f} ms")
    print(
        f"crisis check alone  p50 {figures['crisis_p50_ms']:.3f} ms   "
        f"p99 {figures['crisis_p99_ms']:.3f} ms (everyday and crisis messages)"
    )
    print(
        f"crisis check, 4,096 characters  p50 {figures['crisis_long_p50_ms']:.3f} ms   "
        f"p99 {figures['crisis_long_p99_ms']:.3f} ms"
    )
    print(f"peak RSS            {rss_mb:.0f} MB (benchmark process)")
    print(f"prepare()           {figures['prepare_s']:.2f} s (migrate, content, model reuse)")
    print(
        f"start-up to ready   {startup:.2f} s median of {args.startup_runs} (launch to first reply)"
    )


if __name__ == "__main__":
    main()
