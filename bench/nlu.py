"""Embedded parser vs the Rasa 3.6 server, side by side on the held-out set, in one run.

Starts `rasa run --enable-api` from .venv-rasa with the current model (`make rasa-model`), then
scores both backends on nlu/tests/test_data.yml: accuracy, macro-F1, parse latency p50/p99 (Rasa's
includes HTTP on loopback) and resident memory (embedded: the model's share of this process;
Rasa: the server process). Run: `.venv/bin/python bench/nlu.py`.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import paths
from nlu.embedded import EmbeddedParser, train_or_load
from nlu.evaluate import evaluate_parser, load_labelled
from nlu.rasa import RasaParser
from nlu.rasa_tools import start_server, stop_server


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    examples = load_labelled(paths.NLU_TEST_DATA)
    gc.collect()
    before = rss_mb()
    model, _ = train_or_load(paths.NLU_DATA_DIR, paths.EMBEDDED_MODEL, paths.NLU_CONFIG)
    embedded = EmbeddedParser(model)
    model_mb = rss_mb() - before
    for example in examples[:20]:
        embedded.parse_sync(example.text)
    local = await evaluate_parser("embedded", embedded, examples)

    token = secrets.token_urlsafe(32)
    process, url = start_server(token)
    try:
        rasa = RasaParser(url, token=token, timeout=10)
        for example in examples[:20]:
            await rasa.parse(example.text)
        remote = await evaluate_parser("rasa (HTTP)", rasa, examples)
        await rasa.close()
        rasa_mb = rss_mb(process.pid)
    finally:
        stop_server(process)

    print(f"held-out examples   {len(examples)} ({paths.NLU_TEST_DATA.name})")
    print(f"{'':20}{'embedded':>14}{'rasa DIET':>14}")
    print(f"{'accuracy':20}{local.accuracy:>14.3f}{remote.accuracy:>14.3f}")
    print(f"{'macro-F1':20}{local.macro_f1:>14.3f}{remote.macro_f1:>14.3f}")
    print(f"{'parse p50 (ms)':20}{local.latency(50):>14.3f}{remote.latency(50):>14.3f}")
    print(f"{'parse p99 (ms)':20}{local.latency(99):>14.3f}{remote.latency(99):>14.3f}")
    print(f"{'memory (MB)':20}{model_mb:>14.0f}{rasa_mb:>14.0f}")
    print(f"speed-up at p50     {remote.latency(50) / local.latency(50):.0f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process {peak:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
