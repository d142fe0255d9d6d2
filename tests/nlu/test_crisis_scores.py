"""The crisis evaluation's measures: recall at any level, half a false alarm for a check-in."""

from __future__ import annotations

from nlu.crisis_model import Labelled
from nlu.evaluate import CrisisEvaluation, Outcome
from nlu.parser import Crisis

CLEAR_SUICIDE = Crisis(True, "suicide", "rule:x", "clear")
POSSIBLE_SUICIDE = Crisis(True, "suicide", "rule:x", "possible")


def evaluation() -> CrisisEvaluation:
    return CrisisEvaluation(
        [
            Outcome(Labelled("a", "suicide", "clear", "en"), CLEAR_SUICIDE),
            Outcome(Labelled("b", "suicide", "clear", "sw"), POSSIBLE_SUICIDE),
            Outcome(Labelled("c", "overdose", "possible", "sheng"), Crisis()),
            Outcome(Labelled("d", "overdose", "clear", "en"), CLEAR_SUICIDE),  # wrong category
            Outcome(Labelled("e", "none", "none", "en"), POSSIBLE_SUICIDE),
            Outcome(Labelled("f", "none", "none", "sw"), CLEAR_SUICIDE),
            Outcome(Labelled("g", "none", "none", "sw"), Crisis()),
            Outcome(Labelled("h", "none", "none", "en"), Crisis()),
        ],
        [],
    )


def test_recall_counts_a_crisis_caught_at_either_level() -> None:
    result = evaluation()
    assert (result.crises, result.negatives) == (4, 4)
    assert result.recall == 3 / 4
    assert result.clear_recall == 1.0
    assert result.clear_as_clear == 2 / 3
    assert result.misses == [("c", "overdose")]
    assert result.wrong_category == [("d", "overdose", "suicide")]


def test_a_check_in_on_a_hard_negative_is_half_a_false_alarm() -> None:
    assert evaluation().false_positive_rate == (0.5 + 1.0) / 4


def test_breakdowns_by_level_category_and_language() -> None:
    result = evaluation()
    by_level = {row[0]: row[1:] for row in result.breakdown("level")}
    assert (by_level["clear"][:2], by_level["possible"][:2]) == ((3, 1.0), (1, 0.0))
    assert by_level["none"][2:] == (4, 0.375)
    by_language = {row[0]: row[1:] for row in result.breakdown("language")}
    assert by_language["sw"] == (1, 1.0, 2, 0.5)
    assert by_language["en"] == (2, 1.0, 2, 0.25)
    assert by_language["sheng"][:2] == (1, 0.0)
    by_category = {row[0]: row[1:3] for row in result.breakdown("category")}
    assert (by_category["overdose"], by_category["suicide"]) == ((2, 0.5), (2, 1.0))
