"""Database errors are logged without their messages: drivers quote the values they were given.

Issue 17: an asyncpg DataError carried the bound values despite `hide_parameters`, and a web chat
message relayed during a case was logged word for word ("My name is … I live in …").
"""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import text

from bot.db.session import create_engine
from bot.logs import JsonFormatter, RedactTokens

MARKER = "My name is Zawadi Achieng, I live in Kondele"


def logged(error: BaseException, formatter: logging.Formatter) -> str:
    """What our stderr handler writes for `log.exception` of `error`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactTokens())
    handler.setFormatter(formatter)
    log = logging.getLogger("tests.database_errors")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise error
        except BaseException:
            log.exception("turn failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    return stream.getvalue()


async def database_error(url: str) -> BaseException:
    """A real driver error from a statement given the young person's words."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT CAST(:v AS integer) + :n"), {"v": MARKER, "n": MARKER}
            )
    except Exception as error:
        return error
    finally:
        await engine.dispose()
    raise AssertionError("the statement should have failed")


@pytest.mark.postgres
@pytest.mark.parametrize("formatter", [logging.Formatter("%(message)s"), JsonFormatter()])
async def test_an_asyncpg_data_error_is_logged_without_the_values(
    postgres_url: str, formatter: logging.Formatter
) -> None:
    error = await database_error(postgres_url)
    assert "Zawadi" in str(error), "the driver quotes the value (what this test guards against)"
    output = logged(error, formatter)
    assert MARKER not in output and "Zawadi" not in output
    assert "DBAPIError" in output or "DataError" in output, output
    assert "turn failed" in output and "File " in output  # where it happened is kept


def test_other_errors_keep_their_message() -> None:
    output = logged(ValueError("a configuration value is wrong"), logging.Formatter("%(message)s"))
    assert "a configuration value is wrong" in output


def test_a_database_error_inside_another_is_scrubbed_too() -> None:
    import sqlite3

    try:
        try:
            raise sqlite3.IntegrityError(f"UNIQUE failed for {MARKER}")
        except sqlite3.Error as inner:
            raise RuntimeError("the turn could not be stored") from inner
    except RuntimeError as outer:
        output = logged(outer, logging.Formatter("%(message)s"))
    assert MARKER not in output and "sqlite3.IntegrityError" in output
