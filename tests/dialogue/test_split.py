"""Splitting long replies: within the limit in UTF-16 units, never through a tag or an entity."""

from __future__ import annotations

import re

import pytest

from bot.dialogue.split import TELEGRAM_LIMIT, split_message, utf16_length

ENTITY = re.compile(r"&(?:#[0-9]+|#x[0-9a-fA-F]+|[a-z]+);")
TAG = re.compile(r"<[^<>]*>")
LIMIT = 50


def assert_whole_markup(chunks: list[str]) -> None:
    """Every `&` in a chunk starts an entity and every `<` a tag, all inside that chunk."""
    for chunk in chunks:
        without = TAG.sub("", ENTITY.sub("", chunk))
        assert "&" not in without and "<" not in without and ">" not in without, chunk


def test_a_short_message_is_one_chunk() -> None:
    assert split_message("x" * TELEGRAM_LIMIT) == ["x" * TELEGRAM_LIMIT]


@pytest.mark.parametrize("entity", ["&amp;", "&#39;", "&#x1F600;", "&quot;"])
@pytest.mark.parametrize("offset", range(-12, 3))
def test_an_entity_at_any_offset_around_the_limit_is_never_cut(entity: str, offset: int) -> None:
    text = "x" * (LIMIT + offset) + entity + "y" * LIMIT
    chunks = split_message(text, LIMIT)
    assert "".join(chunks) == text
    assert all(utf16_length(c) <= LIMIT for c in chunks)
    assert_whole_markup(chunks)


@pytest.mark.parametrize("offset", range(6))
def test_a_long_run_of_entities_is_cut_between_them(offset: int) -> None:
    text = "x" * offset + "&amp;" * 1000
    chunks = split_message(text)
    assert len(chunks) == 2
    assert "".join(chunks) == text
    assert all(utf16_length(c) <= TELEGRAM_LIMIT for c in chunks)
    assert_whole_markup(chunks)


@pytest.mark.parametrize("offset", range(-30, 3))
def test_a_tag_at_any_offset_around_the_limit_is_never_cut(offset: int) -> None:
    text = "x" * (LIMIT + offset) + '<a href="https://e.org/?a=1&amp;b=2">' + "y" * LIMIT
    chunks = split_message(text, LIMIT)
    assert "".join(chunks) == text
    assert all(utf16_length(c) <= LIMIT for c in chunks)
    assert_whole_markup(chunks)


def test_a_space_inside_a_tag_is_not_a_word_boundary() -> None:
    text = "x" * 30 + '<a href="https://example.org">' + "y" * 30
    chunks = split_message(text, LIMIT)
    assert chunks == ["x" * 30, '<a href="https://example.org">' + "y" * 20, "y" * 10]


@pytest.mark.parametrize("offset", range(4))
def test_emoji_at_the_cut_count_as_two_units_and_stay_whole(offset: int) -> None:
    text = "x" * offset + "😀" * 3000  # each a surrogate pair in UTF-16
    chunks = split_message(text)
    assert "".join(chunks) == text
    assert all(utf16_length(c) <= TELEGRAM_LIMIT for c in chunks)
    assert utf16_length(chunks[0]) >= TELEGRAM_LIMIT - 1  # as full as the pairs allow


def test_emoji_mixed_with_entities_stay_within_the_limit() -> None:
    text = "😀&amp;é" * 1000
    chunks = split_message(text)
    assert "".join(chunks) == text
    assert all(utf16_length(c) <= TELEGRAM_LIMIT for c in chunks)
    assert_whole_markup(chunks)


def test_a_lone_surrogate_is_counted_not_an_error() -> None:
    assert utf16_length("\ud800x") == 2
    assert all(utf16_length(c) <= 3 for c in split_message("\ud800" * 10, 3))


def test_paragraphs_are_still_the_preferred_boundary() -> None:
    text = "a" * 30 + "\n\n" + "b &amp; c " * 5
    assert split_message(text, LIMIT) == ["a" * 30, "b &amp; c " * 5]
