"""Rasa 3.1 training data: annotations, the project's own data, and its rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot import paths
from nlu.intents import ALL_INTENTS
from nlu.language import detect_language
from nlu.training_data import TrainingDataError, load_training_data, parse_example


def test_entity_annotations_are_removed_and_their_spans_kept() -> None:
    example = parse_example(
        'where can I get [PrEP]{"entity": "service", "value": "prep"} in [Kisumu](location)',
        "find_service",
    )
    assert example.text == "where can I get PrEP in Kisumu"
    assert [(e.entity, e.value, example.text[e.start : e.end]) for e in example.entities] == [
        ("service", "prep", "PrEP"),
        ("location", "Kisumu", "Kisumu"),
    ]


def test_malformed_files_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: hi\n')
    with pytest.raises(TrainingDataError):
        load_training_data(tmp_path)


def test_every_intent_has_enough_examples_and_no_duplicates() -> None:
    data = load_training_data(paths.NLU_DATA_DIR)
    counts = Counter(e.intent for e in data.examples)
    assert set(counts) == set(ALL_INTENTS)
    assert min(counts.values()) >= 40, counts.most_common()[-3:]
    texts = Counter(e.text.lower() for e in data.examples)
    assert [t for t, n in texts.items() if n > 1] == []


def test_every_intent_has_kiswahili_or_sheng_examples() -> None:
    data = load_training_data(paths.NLU_DATA_DIR)
    swahili = Counter(e.intent for e in data.examples if detect_language(e.text) == "sw")
    thin = {i: swahili[i] for i in ALL_INTENTS if swahili[i] < 10}
    assert thin == {}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("nataka kujua kuhusu PrEP", "sw"),
        ("niaje msee", "sw"),
        ("nimechoka na shule", "sw"),
        ("hw do i use p2 pls", "en"),
        ("where can I get tested", "en"),
        ("periods zangu hazikuji", "sw"),
    ],
)
def test_language_detection(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_language_detection_defaults_when_there_is_no_evidence() -> None:
    assert detect_language("😀 123", default="sw") == "sw"
