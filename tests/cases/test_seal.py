"""Sealed routes: only the bot's own secret opens them, and they give nothing away."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.cases.seal import seal, unseal

SECRET = "seal-secret-0123456789abcdef"
ADDRESS = "telegram:987654321"


def test_a_sealed_address_opens_with_the_same_secret() -> None:
    assert unseal(SECRET, seal(SECRET, ADDRESS)) == ADDRESS
    assert unseal(SECRET, seal(SECRET, "web:ñ-ü-✓")) == "web:ñ-ü-✓"


def test_the_token_does_not_contain_the_address() -> None:
    token = seal(SECRET, ADDRESS)
    assert "987654321" not in token and "telegram" not in token
    assert seal(SECRET, ADDRESS) != token, "each seal is fresh (random IV)"
    assert len(token) <= 512, "fits cases.route"


def test_another_secret_cannot_open_it() -> None:
    assert unseal("another-secret-0123456789", seal(SECRET, ADDRESS)) is None


@pytest.mark.parametrize(
    "tamper",
    [
        # the tag, inside it: the character before "=" has unused low bits, so "A" -> "B" there
        # decodes to the same bytes and the test failed in 6 % of runs (317 of 5,000 seals)
        lambda t: t[:-12] + ("A" if t[-12] != "A" else "B") + t[-11:],
        lambda t: t[:30] + ("x" if t[30] != "x" else "y") + t[31:],  # the ciphertext
        lambda t: t[:-10],  # truncated
        lambda t: "",
        lambda t: "not a token at all",
        lambda t: "ü" * 40,
        lambda t: ADDRESS,
    ],
)
def test_a_tampered_or_garbled_token_gives_none(tamper: Callable[[str], str]) -> None:
    token = seal(SECRET, ADDRESS)
    assert unseal(SECRET, tamper(token)) is None
