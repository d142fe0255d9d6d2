"""Telegram's limits: 429 answers waited out, network errors and 5xx retried, never dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)
NETWORK_RETRIES = 5
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0


class PatientRateLimiter(AIORateLimiter):
    """python-telegram-bot's rate limiter (which waits out 429 `retry_after`), plus retries.

    A network error or a 5xx from the Bot API (python-telegram-bot raises `NetworkError` for
    both; `TimedOut` is one) is retried with exponential backoff, so a short outage delays a
    reply instead of losing it. A retried send whose first attempt did reach Telegram may arrive
    twice: a duplicate is better than a young person left without an answer.
    """

    def __init__(
        self,
        *,
        overall_max_rate: float = 30,
        max_retries: int = 5,
        network_retries: int = NETWORK_RETRIES,
    ) -> None:
        """`overall_max_rate`: messages a second across all chats (0: no limit of ours)."""
        super().__init__(overall_max_rate=overall_max_rate, max_retries=max_retries)
        self._network_retries = network_retries

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Send through the rate limiter; retry network errors and 5xx with backoff."""
        delay = FIRST_BACKOFF_S
        for attempt in range(self._network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except (RetryAfter, BadRequest):  # BadRequest is a NetworkError in python-telegram-bot
                raise
            except NetworkError as exc:
                if attempt == self._network_retries or endpoint == "getUpdates":
                    raise
                log.warning(
                    "Bot API %s failed (%s); retry %d in %.1f s",
                    endpoint,
                    type(exc).__name__,
                    attempt + 1,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
        raise AssertionError("unreachable")  # pragma: no cover
