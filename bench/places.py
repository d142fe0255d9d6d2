"""The gazetteer on 1,000 mixed messages: exact names, typos, unknown places and sentences.

Prints resolve latency (p50/p99/max) per kind of input and overall, the time to load
content/services/places.tsv and build the indexes, and the memory the gazetteer holds
(tracemalloc). Run: `.venv/bin/python bench/places.py [--messages N]`.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.referral.places import PLACES_FILE, Gazetteer

MIX = {
    "exact": [
        "Homa Bay",
        "Kisumu",
        "Kibera",
        "Kayole",
        "Eastleigh",
        "Githurai 45",
        "Mombasa",
        "Nyali",
        "Kakamega",
        "Eldoret",
        "Lodwar",
        "Kilifi North sub county",
        "kaunti ya Turkana",
        "Makutano",
        "Rongai",
    ],
    "fuzzy": ["Kisimu", "Nakru", "Mombassa", "Eldorett", "Kakamenga", "homa bey", "Kitengala"],
    "unknown": ["Wakanda", "asdf", "Narnia", "Kisumuuu", "tao", "qwzx vbnm", "Gotham City"],
    "sentence": [
        "where can i get tested in homa bay town",
        "niko Kisumu mjini nataka kupima ukimwi",
        "nko kayole wapi naeza pata prep",
        "karibu na Homa Bay kuna clinic ya vijana?",
        "i stay in embakasi which clinic is near",
        "nataka kupima kisimu",
        "msee wapi naeza test HIV around Kangemi",
        "my boyfriend forces me to have sex and i dont know what to do anymore please help",
        ("nimechoka na shule na exams manze " * 8).strip(),
    ],
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def workload(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """`count` (kind, text) pairs, a quarter of each kind."""
    rng = random.Random(seed)
    kinds = sorted(MIX)
    return [(kind, rng.choice(MIX[kind])) for kind in (kinds[i % len(kinds)] for i in range(count))]


def load_figures(path: Path) -> tuple[Gazetteer, float, float, float]:
    """Load once untraced (time), then once under tracemalloc (held and peak memory, MB)."""
    started = time.perf_counter()
    gazetteer = Gazetteer.load(path)
    seconds = time.perf_counter() - started
    del gazetteer
    gc.collect()
    tracemalloc.start()
    gazetteer = Gazetteer.load(path)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return gazetteer, seconds, held / 2**20, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--places", type=Path, default=PLACES_FILE)
    args = parser.parse_args()
    gazetteer, load_s, held_mb, peak_mb = load_figures(args.places)
    messages = workload(args.messages)
    for _, text in messages[:50]:  # warm-up
        gazetteer.resolve(text)
    times: dict[str, list[float]] = {kind: [] for kind in MIX}
    for kind, text in messages:
        started = time.perf_counter()
        gazetteer.resolve(text)
        times[kind].append((time.perf_counter() - started) * 1000)
    every = [t for values in times.values() for t in values]
    print(f"places file         {args.places.name} ({args.places.stat().st_size / 1024:.0f} KiB)")
    print(f"load + index        {load_s * 1000:.0f} ms")
    print(f"memory held         {held_mb:.1f} MB (peak while loading {peak_mb:.1f} MB)")
    print(f"messages            {len(messages)} ({', '.join(sorted(MIX))}, a quarter each)")
    print(f"{'resolve (ms)':20}{'p50':>8}{'p99':>8}{'max':>8}")
    for kind, values in [*times.items(), ("all", every)]:
        p50, p99 = statistics.median(values), percentile(values, 99)
        print(f"{kind:20}{p50:>8.3f}{p99:>8.3f}{max(values):>8.3f}")


if __name__ == "__main__":
    main()
