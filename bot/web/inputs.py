"""What the console and the web chat accept from a browser: ids in paths, and text.

Database ids are PostgreSQL `integer`s (at most 2^31 - 1): a path naming a bigger number is not a
route (404), never a query that fails. Text from forms and the web chat loses its NUL characters,
which PostgreSQL text cannot hold; a username with any control character matches no account.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

MAX_ID_DIGITS = 9  # 999,999,999 < 2^31 - 1: every id a path can name fits an `integer` column
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class DatabaseId(Convertor[int]):
    """A path parameter naming a row: 1 to 9 ASCII digits, as an int."""

    regex = f"[0-9]{{1,{MAX_ID_DIGITS}}}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 0 <= value < 10**MAX_ID_DIGITS:
            raise ValueError(f"{value} is not a database id")
        return str(value)


def use_database_ids() -> None:
    """Register `{name:id}` for routes' paths: a DatabaseId (call before the routes are made).

    Starlette keeps convertors in one registry for the process; `id` is a new name, so nothing
    else's `:int` changes meaning.
    """
    register_url_convertor("id", DatabaseId())


def web_text(value: object) -> str:
    """A form field or JSON string as text without NUL characters ("" for anything else)."""
    return value.replace("\x00", "") if isinstance(value, str) else ""


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character (C0, DEL or C1: tab and newline included)."""
    return _CONTROL.search(text) is not None


def printable(text: str) -> str:
    """`text` with each control character replaced by U+FFFD, for the audit log to show."""
    return _CONTROL.sub("\ufffd", text)
