"""The crisis classifier: what it learns from, what it adds to the rules, and failing safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import paths
from bot.runtime import build_crisis_model
from nlu.crisis_model import CrisisModel, rule_examples, training_examples
from nlu.detector import CrisisDetector
from nlu.parser import CRISIS_CATEGORIES, Crisis
from nlu.safety import SafetyRules

RULES = SafetyRules.load(paths.SAFETY_RULES)


def test_it_learns_from_nlu_data_rules_and_tuning_sets() -> None:
    examples = training_examples(paths.NLU_DATA_DIR, paths.CRISIS_TUNING_DIR, paths.SAFETY_RULES)
    labels = {e.intent for e in examples}
    assert labels == {"none", *CRISIS_CATEGORIES}
    sources = {e.source for e in examples}
    assert {"nlu", "rules", "dev_a.yml", "dev_b.yml"} <= sources
    nlu_crisis = [e for e in examples if e.source == "nlu" and e.intent == "suicide"]
    assert nlu_crisis, "suicidal_thoughts examples are labelled suicide"


def test_rule_phrases_lose_their_wildcards() -> None:
    phrases = {e.text for e in rule_examples(paths.SAFETY_RULES)}
    assert "want to die" in phrases
    assert not any(w in ("*", "**", "...") for p in phrases for w in p.split())


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("i dont see myself being alive next month", "suicide"),
        ("im thinking of ending things", "suicide"),
        ("my uncle keeps coming to my bed at night", "sexual_violence"),
    ],
)
def test_the_classifier_catches_wordings_no_rule_has(
    crisis_model: CrisisModel, message: str, category: str
) -> None:
    assert not RULES.check(message).detected
    crisis = CrisisDetector(RULES, crisis_model).check(message)
    assert crisis.detected and crisis.category == category
    assert (crisis.matched or "").startswith(f"model:{category}:")


@pytest.mark.parametrize(
    "message",
    ["this exam is killing me", "nimechoka na shule", "where can i get prep in kisumu"],
)
def test_everyday_messages_stay_quiet(crisis_model: CrisisModel, message: str) -> None:
    assert CrisisDetector(RULES, crisis_model).check(message) == Crisis()


def test_frames_quiet_the_classifier_too(crisis_model: CrisisModel) -> None:
    message = "the novel we read for english class: the hero is thinking of ending things"
    assert CrisisDetector(RULES, crisis_model).check(message) == Crisis()


def test_a_long_message_is_scored_on_its_head_and_tail(crisis_model: CrisisModel) -> None:
    filler = "we talked about football and school and the weather in nairobi. " * 60
    message = filler + "i dont see myself being alive next month"
    assert len(message) > 3000
    assert crisis_model.signal(message).detected


def test_without_its_model_the_rules_still_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = build_crisis_model(tmp_path / "missing.yml", tmp_path / "crisis.pkl")
    assert model is None
    assert "crisis rules work alone" in caplog.text
    assert CrisisDetector(RULES, model).check("nataka kujiua").category == "suicide"
