"""The embedded parser: contract shape, understanding, speed path equivalence, model reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot import paths
from nlu.embedded import (
    EmbeddedModel,
    EmbeddedParser,
    fingerprint,
    reference_probabilities,
    train_or_load,
)
from nlu.intents import ALL_INTENTS
from nlu.parser import ParserUnavailable
from nlu.training_data import load_training_data


def test_parse_result_has_the_contract_shape(parser: EmbeddedParser) -> None:
    result = parser.parse_sync("where can I get PrEP in Kisumu").to_dict()
    assert set(result) == {"text", "intent", "intent_ranking", "entities", "language", "crisis"}
    assert result["intent"]["name"] == "find_service"
    assert result["intent_ranking"][0] == result["intent"]
    confidences = [r["confidence"] for r in result["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    # (ARCHITECTURE.md's example spans are off by three; these are the true character offsets)
    assert result["entities"] == [
        {"entity": "service", "value": "prep", "start": 16, "end": 20},
        {"entity": "location", "value": "Kisumu", "start": 24, "end": 30},
    ]
    assert result["language"] == "en"
    assert result["crisis"] == {"detected": False, "category": None, "level": None}
    json.dumps(result)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hello", "greet"),
        ("niaje", "greet"),
        ("asante sana", "thanks"),
        ("how do i get tested for hiv", "hiv_testing"),
        ("nataka kupima ukimwi", "hiv_testing"),
        ("what is prep", "hiv_prep"),
        ("condom burst last night and im scared of hiv", "hiv_pep"),
        ("hw do i use p2 pls", "emergency_contraception"),
        ("i feel so sad and empty every day", "depression"),
        ("this exam is killing me", "anxiety_stress"),
        ("who won the match", "out_of_scope"),
    ],
)
def test_common_questions_are_understood(parser: EmbeddedParser, text: str, intent: str) -> None:
    assert parser.parse_sync(text).intent.name == intent


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("nataka kujiua", "suicide"),
        ("i want to kill myself", "suicide"),
        ("nilibakwa jana", "sexual_violence"),
        ("i cut myself again last night", "self_harm"),
    ],
)
def test_crisis_intents_mark_the_result(parser: EmbeddedParser, text: str, category: str) -> None:
    crisis = parser.parse_sync(text).crisis
    assert crisis.detected and crisis.category == category
    assert crisis.matched is not None and crisis.matched.startswith("intent:")


def test_an_idiom_is_not_a_crisis(parser: EmbeddedParser) -> None:
    assert not parser.parse_sync("this exam is killing me").crisis.detected


def test_the_fast_scorer_equals_scikit_learn(model: EmbeddedModel, parser: EmbeddedParser) -> None:
    texts = [e.text for e in load_training_data(paths.NLU_DATA_DIR).examples[::7]]
    texts += ["", "😀", "zzzz qqqq", "a" * 4096, "HIV HIV hiv Hiv"]
    expected = reference_probabilities(model, texts)
    ours = np.array([parser._scorer.probabilities(t) for t in texts])
    assert np.allclose(expected, ours, atol=1e-5)


def test_blank_text_is_refused(parser: EmbeddedParser) -> None:
    with pytest.raises(ParserUnavailable):
        parser.parse_sync("   ")


def test_the_model_knows_every_intent_of_the_taxonomy(parser: EmbeddedParser) -> None:
    assert sorted(parser.intents) == sorted(ALL_INTENTS)


def test_the_model_is_reused_until_the_training_data_changes(tmp_path: Path) -> None:
    data = tmp_path / "nlu" / "data"
    data.mkdir(parents=True)
    (data / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello\n'
        "- intent: goodbye\n  examples: |\n    - bye\n    - see you\n"
    )
    model_path = tmp_path / "model.pkl"
    _, trained = train_or_load(data, model_path)
    assert trained
    _, trained = train_or_load(data, model_path)
    assert not trained
    before = fingerprint(data)
    (data / "a.yml").write_text((data / "a.yml").read_text() + "    - later\n")
    assert fingerprint(data) != before
    model, trained = train_or_load(data, model_path)
    assert trained and model.fingerprint == fingerprint(data)


def test_a_corrupt_model_file_is_retrained(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n    - hello there\n'
        "- intent: goodbye\n  examples: |\n    - bye\n    - bye bye\n"
    )
    model_path = tmp_path / "model.pkl"
    model_path.write_bytes(b"not a pickle")
    model, trained = train_or_load(data, model_path)
    assert trained and EmbeddedParser(model).parse_sync("hello").intent.name == "greet"


def test_cross_validation_meets_the_quality_target() -> None:
    from nlu.evaluate import cross_validate

    evaluation = cross_validate(paths.NLU_DATA_DIR)
    assert evaluation.macro_f1 >= 0.90, evaluation.confusions[:5]
