"""Logging: JSON lines with whitelisted fields, tokens redacted, chatty libraries held back."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.logs import HANDLER_NAME, QUIET_LIBRARIES, SAFE_EXTRA, JsonFormatter, configure_logging

TOKEN = "7012345678:AAHk3vXq9ZbLwTmN4pRs8YcUe2FgJdKo1Wi"
log = logging.getLogger("healthbot.test_logs")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave the root logger and the library loggers as the test found them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if h.name == HANDLER_NAME]


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines()]


def test_json_lines_carry_time_level_logger_message_and_safe_extras(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    log.info("ready in %.2f s", 1.2345, extra={"channel": "telegram", "count": 3})
    log.debug("below the level")
    log.warning("parser unavailable", extra={"backend": "rasa"})
    first, second = lines(capsys)
    assert first["level"] == "INFO" and first["logger"] == "healthbot.test_logs"
    assert first["message"] == "ready in 1.23 s"
    assert (first["channel"], first["count"]) == ("telegram", 3)
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)
    assert set(first) == {"time", "level", "logger", "message", "channel", "count"}
    assert (second["level"], second["backend"]) == ("WARNING", "rasa")


def test_an_exception_becomes_exc_type_and_the_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    try:
        raise LookupError("no such case")
    except LookupError:
        log.exception("turn failed", extra={"kind": "text"})
    [entry] = lines(capsys)
    assert entry["message"] == "turn failed" and entry["level"] == "ERROR"
    assert entry["exc_type"] == "LookupError" and entry["kind"] == "text"
    assert entry["exc"].startswith("Traceback (most recent call last):")
    assert "LookupError: no such case" in entry["exc"]


def test_a_library_exception_type_is_qualified(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log.error("decode failed", exc_info=json.JSONDecodeError("bad", "{", 0))
    [entry] = lines(capsys)
    assert entry["exc_type"] == "json.decoder.JSONDecodeError"


def test_extra_keys_outside_the_whitelist_are_never_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG", "json")
    private = {
        "text": "I want to kill myself",
        "chat_id": 424242421,
        "first_name": "Nyokabi",
        "latitude": -0.0917,
        "user": {"username": "nyokabi_w"},
    }
    log.warning("crisis case not stored", extra={"category": "suicide", **private})
    err = capsys.readouterr().err
    [entry] = [json.loads(line) for line in err.splitlines()]
    assert set(entry) == {"time", "level", "logger", "message", "category"}
    for secret in ("kill myself", "424242421", "Nyokabi", "-0.0917", "nyokabi_w"):
        assert secret not in err


def test_every_whitelisted_extra_key_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log.info("update handled", extra={key: f"v-{key}" for key in SAFE_EXTRA})
    [entry] = lines(capsys)
    assert {key: entry[key] for key in SAFE_EXTRA} == {key: f"v-{key}" for key in SAFE_EXTRA}


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_bot_token_is_redacted_in_message_traceback_and_extras(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", fmt)
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    log.info("polling %s", url, extra={"path": f"/bot{TOKEN}/getMe"})
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        log.exception("network down")
    log.warning("stack", stack_info=True, extra={"path": TOKEN})
    err = capsys.readouterr().err
    assert TOKEN not in err and TOKEN.split(":")[1] not in err
    assert "polling https://api.telegram.org/bot[token]/getUpdates" in err
    assert "ConnectionError: cannot reach https://api.telegram.org/bot[token]/getUpdates" in err
    if fmt == "json":
        first, second, _third = (json.loads(line) for line in err.splitlines())
        assert first["path"] == "/bot[token]/getMe"
        assert "bot[token]" in second["exc"]


def test_the_formatter_alone_redacts_a_traceback() -> None:
    try:
        raise ConnectionError(f"cannot reach /bot{TOKEN}/getMe")
    except ConnectionError:
        record = log.makeRecord(log.name, logging.ERROR, "f", 1, "down", None, _exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert TOKEN not in entry["exc"] and "/bot[token]/getMe" in entry["exc"]


def _exc_info() -> Any:
    import sys

    return sys.exc_info()


def test_a_broken_format_string_never_prints_its_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger().handlers[:] = ours()  # pytest's own capture raises on such a record
    log.info("turn for %d", "Nyokabi Wambui")
    err = capsys.readouterr().err
    [entry] = [json.loads(line) for line in err.splitlines()]
    assert "could not be formatted" in entry["message"] and "Nyokabi" not in err


@pytest.mark.parametrize("name", sorted(QUIET_LIBRARIES))
def test_quiet_libraries_stay_above_debug_at_log_level_debug(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "json")
    for logger in (logging.getLogger(name), logging.getLogger(f"{name}.child")):
        logger.debug("update from chat 424242421: i want to kill myself")
    log.debug("our own debug line")
    [entry] = lines(capsys)
    assert entry["message"] == "our own debug line"
    assert logging.getLogger(name).getEffectiveLevel() > logging.DEBUG


def test_the_libraries_that_leak_are_on_the_quiet_list() -> None:
    assert QUIET_LIBRARIES["uvicorn.access"] == logging.WARNING
    assert QUIET_LIBRARIES["httpx"] == logging.WARNING
    assert QUIET_LIBRARIES["telegram"] == logging.INFO
    assert QUIET_LIBRARIES["uvicorn.error"] == logging.INFO


def test_a_higher_log_level_still_wins_over_the_floor(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("ERROR", "json")
    assert logging.getLogger("telegram").getEffectiveLevel() == logging.ERROR
    logging.getLogger("uvicorn.access").warning("GET / 200")
    log.error("shown")
    assert [e["message"] for e in lines(capsys)] == ["shown"]


def test_text_format_is_the_timestamped_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    log.info("ready in %.2f s", 0.5)
    err = capsys.readouterr().err
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO healthbot.test_logs: ready in 0.50 s\n"
    assert re.fullmatch(pattern, err)


def test_configuring_twice_keeps_one_handler_in_the_latest_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "text")
    configure_logging("INFO", "json")
    assert len(ours()) == 1
    log.info("once")
    [entry] = lines(capsys)
    assert entry["message"] == "once"


def test_an_unknown_format_or_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging("INFO", "xml")
    with pytest.raises(ValueError, match="log level"):
        configure_logging("LOUD")


def test_main_logs_in_the_configured_format_and_adds_one_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEALTHBOT_SECRET", "logs-secret-0123456789")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/h.db")
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    monkeypatch.setenv("LOG_FORMAT", "json")
    for _ in range(2):
        assert cli.main(["counsellors", "list"]) == 0
    assert len(ours()) == 1
    assert isinstance(ours()[0].formatter, JsonFormatter)
    capsys.readouterr()
    logging.getLogger("healthbot").info("after main")
    assert lines(capsys)[-1]["message"] == "after main"
