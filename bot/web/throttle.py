"""Login throttling: attempts per client address, and argon2 hashes at once, both bounded.

Every login attempt costs an argon2 hash (a dummy one for an unknown username, so timing tells
nobody which accounts exist), a fraction of a second of CPU. Unbounded, a few hundred parallel
attempts starve the process that also answers the web chat's crisis messages. So each client
address gets `per_address` attempts a minute, counted before anything is hashed (unknown
usernames count too), and at most `concurrent` attempts hash at once across the process: one
over either bound is answered 429 with Retry-After at once, never queued. Counts live in this
process's memory; the lock after 5 failures (in the database) still holds across processes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.web.chat import RateLimit

LOGINS_PER_MINUTE = 10  # per client address; a person who mistypes needs a few
CONCURRENT_HASHES = 2  # logins checking a password at once, process-wide
WINDOW_S = 60


class Throttled(Exception):
    """A login refused before hashing; `retry_after` in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class LoginThrottle:
    """Per-address attempts a minute and a process-wide bound on logins hashing at once."""

    def __init__(
        self,
        *,
        per_address: int = LOGINS_PER_MINUTE,
        concurrent: int = CONCURRENT_HASHES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._addresses = RateLimit(per_address, float(WINDOW_S), clock)
        self._slots = concurrent
        self._busy = 0

    @property
    def busy(self) -> int:
        """How many logins are hashing now."""
        return self._busy

    @asynccontextmanager
    async def attempt(self, address: str) -> AsyncIterator[None]:
        """Hold one hashing slot for a login from `address`; raise Throttled when refused."""
        if self._busy >= self._slots:  # checked and taken with no await between: one loop
            raise Throttled(1)
        if not self._addresses.allow(address):
            raise Throttled(WINDOW_S)
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
