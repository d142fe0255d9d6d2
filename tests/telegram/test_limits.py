"""Telegram's limits: a 429 is waited out and a 5xx burst retried; the reply still arrives."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.telegram_limits import PatientRateLimiter
from tests.fakes.bot_api import BotApiEmulator


@pytest.fixture
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as running:
        yield running


def _bot(emulator: BotApiEmulator) -> ExtBot[None]:
    return ExtBot(emulator.token, base_url=emulator.base_url, rate_limiter=PatientRateLimiter())


async def test_a_429_is_waited_out_not_dropped(emulator: BotApiEmulator) -> None:
    emulator.fail("sendMessage", 429, times=2, retry_after=1)
    async with _bot(emulator) as bot:
        started = time.monotonic()
        sent = await bot.send_message(chat_id=42, text="still here")
        waited = time.monotonic() - started
    assert sent.text == "still here"
    assert [s["text"] for s in emulator.sent] == ["still here"]
    assert emulator.methods().count("sendMessage") == 3
    assert waited >= 2.0, "retry_after was not honoured"


async def test_5xx_and_network_errors_are_retried(emulator: BotApiEmulator) -> None:
    emulator.fail("sendMessage", 502, times=2)
    emulator.fail("sendMessage", 500, times=1)
    async with _bot(emulator) as bot:
        await bot.send_message(chat_id=42, text="after the outage")
    assert [s["text"] for s in emulator.sent] == ["after the outage"]
    assert emulator.methods().count("sendMessage") == 4


async def test_a_bad_request_is_not_retried(emulator: BotApiEmulator) -> None:
    emulator.fail("sendMessage", 400, times=1)
    async with _bot(emulator) as bot:
        with pytest.raises(BadRequest):
            await bot.send_message(chat_id=42, text="malformed")
    assert emulator.methods().count("sendMessage") == 1
