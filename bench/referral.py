"""The facility directory: load time, memory, and nearest-5 latency over random pins in Kenya.

Pins are drawn uniformly in Kenya's bounding box and kept when `in_kenya` (seeded, so every run
uses the same 5,000). Run: `.venv/bin/python bench/referral.py`.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.referral.directory import KENYA_BOX, SERVICES_DIR, Directory, in_kenya

PINS = 5_000


def pins(count: int, seed: int = 5) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    lat_min, lat_max, lon_min, lon_max = KENYA_BOX
    found: list[tuple[float, float]] = []
    while len(found) < count:
        lat, lon = rng.uniform(lat_min, lat_max), rng.uniform(lon_min, lon_max)
        if in_kenya(lat, lon):
            found.append((lat, lon))
    return found


def percentiles(query: Callable[[float, float], object], points: list[tuple[float, float]]) -> str:
    for lat, lon in points[:200]:
        query(lat, lon)
    times = []
    for lat, lon in points:
        started = time.perf_counter()
        query(lat, lon)
        times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return f"p50 {cuts[49]:6.3f} ms   p99 {cuts[98]:6.3f} ms   max {max(times):6.3f} ms"


def main() -> None:
    loads = []
    for _ in range(3):
        started = time.perf_counter()
        Directory.load(SERVICES_DIR)
        loads.append(time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    directory = Directory.load(SERVICES_DIR)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    points = pins(PINS)
    cases: dict[str, Callable[[float, float], object]] = {
        "hiv_testing, 50 km": lambda lat, lon: directory.nearest(lat, lon, ["hiv_testing"]),
        "all services, 50 km": lambda lat, lon: directory.nearest(lat, lon, []),
        "hiv_testing, no limit": lambda lat, lon: directory.nearest(
            lat, lon, ["hiv_testing"], max_km=None
        ),
        "pep proxies, 24h first": lambda lat, lon: directory.nearest(
            lat, lon, directory.proxies("pep"), max_km=None, open_24h_first=True
        ),
        "hiv_testing, page 3": lambda lat, lon: directory.nearest(
            lat, lon, ["hiv_testing"], offset=10, max_km=None
        ),
    }
    print(f"facilities          {len(directory)} (from {SERVICES_DIR})")
    best, first = min(loads) * 1000, loads[0] * 1000
    print(f"load                best {best:.0f} ms of 3 (first {first:.0f} ms)")
    held, most = current / 2**20, peak / 2**20
    print(f"memory (tracemalloc) {held:.1f} MiB held, {most:.1f} MiB peak while loading")
    print(f"nearest-5 over {PINS} random pins in Kenya:")
    for name, query in cases.items():
        print(f"  {name:24}{percentiles(query, points)}")


if __name__ == "__main__":
    main()
