"""Triage with levels: clear, possible or none; never silence on a real disclosure (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import paths
from nlu.parser import Crisis
from nlu.safety import SafetyRules, SafetyRulesError

RULES = SafetyRules.load(paths.SAFETY_RULES)


def level(message: str) -> tuple[str | None, str | None]:
    crisis = RULES.check(message)
    return crisis.category, crisis.level


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("i just want to die lol", "suicide"),
        ("sitaki kuishi haha", "suicide"),
        ("he raped me lol what is the punishment", "sexual_violence"),
        ("last year i tried to kill myself", "suicide"),
        ("how do i abort", "unsafe_abortion"),
        ("what happens if you drink jik", "suicide"),
        ("my sponsor is nice to me", "exploitation"),
    ],
)
def test_a_joke_a_past_or_a_question_lowers_to_a_check_in_never_to_silence(
    message: str, category: str
) -> None:
    assert level(message) == (category, "possible")


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("niko hai lakini sitaki kuishi", "suicide"),
        ("nashukuru mungu niko hai lakini sitaki kuishi", "suicide"),  # a present intent
        ("he came back and raped me", "sexual_violence"),
        ("i want to die tonight lol", "suicide"),
        ("i want to kill myself jk", "suicide"),  # an explicit intent outweighs a joke marker
        ("a 40-year-old pays my school fees and wants sex", "exploitation"),
        ("my teacher sends me nudes and asks for sex", "exploitation"),
        ("he will post my nudes if I don't send more", "exploitation"),
        ("sponsor wangu ananipressure tufanye bila condom", "exploitation"),
        ("I took 20 panadol an hour ago", "overdose"),
        ("nimemeza vidonge kumi vya mama", "overdose"),
        ("rafiki yangu amekunywa sumu ya panya", "overdose"),
        ("drink jik with strong tea to remove it", "unsafe_abortion"),
        ("I got cytotec from a friend to remove the pregnancy", "unsafe_abortion"),
        ("nimekunywa jik nitoe mimba na sasa natoka damu", "unsafe_abortion"),
        ("nataka kujitia kitanzi", "suicide"),
    ],
)
def test_first_person_intent_means_and_ongoing_abuse_are_clear(message: str, category: str) -> None:
    assert level(message) == (category, "clear")


@pytest.mark.parametrize(
    "message",
    [
        "nataka kuweka kitanzi",
        "je kitanzi ni salama kwa msichana",
        "kitanzi kinauma baada ya kuwekwa?",
        "i took 2 panadol for my headache",
        "i took my arvs late today",
        "my sponsor at church is paying for my confirmation class",
        "is abortion legal in kenya",
        "this exam is killing me",
        "I cut my hair yesterday",
        "last year i tried to kill myself but im fine now, can i donate blood",  # over and said so
    ],
)
def test_ordinary_health_words_and_idioms_are_not_crises(message: str) -> None:
    assert RULES.check(message) == Crisis()


@pytest.mark.parametrize(
    ("message", "friend"),
    [
        ("my friend says she wants to kill herself", True),
        ("I want to kill myself and my friend doesn't know", False),
        ("my boyfriend raped me", False),
        ("my friend was raped last night", True),
        ("she took 20 pills an hour ago", True),
        ("rafiki yangu amekunywa sumu", True),
        ("baba ananipiga sasa hivi", False),
        ("I got cytotec from a friend", False),
        (
            "I have been trying to be strong for a long time. My friend Amina says I should "
            "talk to someone. "
            + "I go to school and I come home and nobody talks to me. " * 60
            + "Tonight I want to end my life.",
            False,
        ),
    ],
)
def test_who_is_speaking_decides_self_or_friend(message: str, friend: bool) -> None:
    crisis = RULES.check(message)
    assert crisis.detected and crisis.about_friend is friend


def test_a_count_wildcard_matches_three_or_more_only() -> None:
    assert RULES.check("i took ten pills").category == "overdose"
    assert RULES.check("i took 15 pills").category == "overdose"
    assert not RULES.check("i took 2 pills").detected


def test_every_frame_kind_needs_an_effect(tmp_path: Path) -> None:
    text = paths.SAFETY_RULES.read_text("utf-8")
    path = tmp_path / "rules.yml"
    path.write_text(text.replace("  joke: possible\n", ""), "utf-8")
    with pytest.raises(SafetyRulesError, match="frame_effects"):
        SafetyRules.load(path)


def test_a_frame_effect_must_be_possible_or_none(tmp_path: Path) -> None:
    text = paths.SAFETY_RULES.read_text("utf-8")
    path = tmp_path / "rules.yml"
    path.write_text(text.replace("  joke: possible\n", "  joke: silent\n"), "utf-8")
    with pytest.raises(SafetyRulesError, match="frame_effects"):
        SafetyRules.load(path)
