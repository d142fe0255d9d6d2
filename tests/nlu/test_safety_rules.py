"""Crisis rules: phrases, exceptions, and frames that lower or quiet crisis words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import paths
from nlu.embedded import EmbeddedParser
from nlu.parser import Crisis
from nlu.safety import SafetyRules, SafetyRulesError, normalise

RULES = SafetyRules.load(paths.SAFETY_RULES)
INTENT_SIGNAL = Crisis(True, "suicide", "intent:suicidal_thoughts")


@pytest.mark.parametrize(
    "message",
    [
        "in the series the main character attempts suicide",
        "the song is about a guy who wants to die",
        "kwenye habari kijana amejiua",
        "what is the difference between rape and defilement",
        "I need facts on FGM for our school club poster",
        "they want me to get married someday",
        "i self harmed in form 2 but im okay now, will the scars fade",
    ],
)
def test_a_quieting_frame_quiets_crisis_words(message: str) -> None:
    assert RULES.check(message) == Crisis()
    assert RULES.confirm(message, INTENT_SIGNAL) == Crisis()


@pytest.mark.parametrize(
    "message",
    [
        "niliwahi kuwa na mawazo ya kujiua",
        "mathe atanimaliza akiona results 😂",
    ],
)
def test_a_past_or_a_joke_lowers_crisis_words_to_a_check_in(message: str) -> None:
    assert RULES.confirm(message, INTENT_SIGNAL).level == "possible"


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("the song is about me, i want to die tonight", "suicide"),
        (
            "i watched a movie about rape and the same thing happened to me yesterday",
            "sexual_violence",
        ),
        ("i used to cut but i started again", "self_harm"),
        ("binamu yangu alianza kuninajisi nikiwa mdogo na bado anaendelea", "sexual_violence"),
        ("lol i want to kill myself", "suicide"),
        ("kwenye habari leo, nataka kujiua pia", "suicide"),
    ],
)
async def test_an_urgent_marker_overrules_every_frame(
    parser: EmbeddedParser, message: str, category: str
) -> None:
    crisis = RULES.assess(message, (await parser.parse(message)).crisis)
    assert crisis.detected and crisis.category == category


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("my uncle raped me, what is the punishment for rape", "sexual_violence"),
        ("nilibakwa na mjomba, adhabu ya kubaka ni gani", "sexual_violence"),
        ("i cut myself, what are the signs of infection", "self_harm"),
        ("in the movie he says he will kill me, i think my dad means it too", "immediate_danger"),
    ],
)
def test_a_disclosure_overrules_media_and_information_frames(message: str, category: str) -> None:
    assert RULES.check(message).category == category


def test_an_experience_that_is_over_and_said_to_be_over_is_quiet() -> None:
    message = "i was raped years ago but im okay now, can i still get tested for hiv"
    assert RULES.assess(message, Crisis(True, "sexual_violence", "intent:x")) == Crisis()


def test_a_present_intent_overrules_an_experience_that_is_over() -> None:
    crisis = RULES.check("i was raped years ago and im okay now but i dont want to live")
    assert crisis.detected and crisis.clear


def test_an_exception_quiets_only_its_own_category() -> None:
    idiom = "boss wangu ananiua na kazi mingi"
    assert RULES.check(idiom) == Crisis()
    assert RULES.check(idiom + " na nataka kujiua").category == "suicide"


def test_the_nlu_signal_is_kept_without_an_exception_or_frame() -> None:
    message = "sometimes the only way out seems the river"
    crisis = RULES.confirm(message, INTENT_SIGNAL)
    assert (crisis.detected, crisis.category, crisis.clear) == (True, "suicide", True)
    assert crisis.matched == INTENT_SIGNAL.matched
    assert RULES.assess(message, Crisis()) == Crisis()


def test_laughing_emoji_read_as_lol() -> None:
    assert normalise("im dead 😂🤣") == " im dead lol lol "


def test_frames_without_urgent_markers_are_refused(tmp_path: Path) -> None:
    text = paths.SAFETY_RULES.read_text("utf-8")
    broken = text[: text.index("\nurgent:")] + "\n"
    path = tmp_path / "rules.yml"
    path.write_text(broken, "utf-8")
    with pytest.raises(SafetyRulesError, match="urgent"):
        SafetyRules.load(path)


@pytest.mark.parametrize("item", ["      -\n", "      - no\n", "      - 1195\n"])
def test_an_item_that_is_not_a_phrase_is_refused(tmp_path: Path, item: str) -> None:
    text = paths.SAFETY_RULES.read_text("utf-8")
    marker = "    exceptions:\n"
    path = tmp_path / "rules.yml"
    path.write_text(text.replace(marker, marker + item, 1), "utf-8")
    with pytest.raises(SafetyRulesError, match="not a phrase"):
        SafetyRules.load(path)
