"""CPU time used by the processes of a load run: the workers, PostgreSQL, the emulator, the sender.

Shares of two shared cores say more than throughput alone: a figure in CPU milliseconds per
message is what one worker would need of a core of its own.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of `pid` (plus its reaped children's, with `children`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks * TICK_S


def postgres_seconds() -> float:
    """CPU seconds of every PostgreSQL process now, plus those of backends that have exited."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            total += process_seconds(int(entry.name), children=_is_postmaster(parent))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue  # a backend that ended while we looked
    return total


def _is_postmaster(parent: int) -> bool:
    """Whether a postgres child of `parent` is the postmaster (its parent is not postgres)."""
    try:
        return Path(f"/proc/{parent}/comm").read_text().strip() != "postgres"
    except FileNotFoundError:
        return True


def own_seconds() -> float:
    """CPU seconds of this process (the load sender)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds per part between `start()` and `stop()`."""

    def __init__(self, workers: list[int], emulator: int) -> None:
        self._workers = workers
        self._emulator = emulator
        self._before: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        figures = {f"worker{i}": process_seconds(pid) for i, pid in enumerate(self._workers)}
        figures["postgres"] = postgres_seconds()
        figures["emulator"] = process_seconds(self._emulator)
        figures["sender"] = own_seconds()
        return figures

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> dict[str, float]:
        after = self._read()
        return {name: after[name] - self._before[name] for name in after}
