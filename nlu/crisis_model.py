"""The crisis classifier: a recall-tuned second opinion beside the phrase rules.

Phrase rules only catch the wordings someone wrote down; this linear model on character and word
n-grams (the embedded parser's features, trainer and fast scorer) generalises to new wordings,
Kiswahili verb forms and Sheng spellings. It learns eight labels (`none` and the seven crisis
categories) from the labelled tuning sets in `nlu/crisis_tuning/`, every phrase and exception in
`content/safety/rules.yml`, and the NLU training data (crisis intents as their category, every
other intent as `none`). A message is a clear signal when P(not none) reaches THRESHOLD, and a
possible one (a check-in) from POSSIBLE_THRESHOLD; the frames and exceptions of the rules then
apply to its signal as to the NLU's.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sklearn
import yaml

from nlu import embedded
from nlu.crisis import CRISIS_INTENTS
from nlu.embedded import EmbeddedModel
from nlu.parser import CLEAR, CRISIS_CATEGORIES, CRISIS_LEVELS, POSSIBLE, Crisis
from nlu.safety import WILDCARDS
from nlu.training_data import Example, TrainingData, load_training_data

log = logging.getLogger(__name__)

MODEL_VERSION = "5"
NONE = "none"
# From P(crisis) = THRESHOLD the classifier's signal is clear (the safety answer); from
# POSSIBLE_THRESHOLD it is possible (a check-in). Chosen by 5-fold cross-validation over the
# tuning sets (issue 16, docs/benchmarks.md): below 0.5 recall gained almost nothing and false
# alarms rose; a clear signal under 0.9 was as often an idiom ("this beat is fire") as a crisis.
THRESHOLD = 0.9
POSSIBLE_THRESHOLD = 0.5
# A long text dilutes its n-grams, and scoring costs ~1 µs a character: a message longer than
# WINDOW is scored sentence by sentence, from both ends inwards, until BUDGET characters have been
# scored or MAX_SEGMENTS sentences taken (the phrase rules still read all of it), and its most
# worrying sentence counts.
WINDOW = 300
BUDGET = 900
MAX_SEGMENTS = 8
_SENTENCE_END = re.compile(r"(?<=[.!?\n])\s*")
_WORD = re.compile(r"[^\W\d_]{2,}")


LANGUAGES = ("en", "sw", "sheng")


@dataclass(frozen=True)
class Labelled:
    """One example of a labelled crisis file.

    `level` is clear or possible for a crisis, none for a hard negative; `language` is en, sw or
    sheng, or empty when the file does not say.
    """

    text: str
    category: str
    level: str
    language: str = ""


def load_examples(path: Path) -> list[Labelled]:
    """The examples of a labelled crisis file; ValueError names a malformed entry.

    `level` defaults to clear for a crisis (older files have none) and must be none for `none`.
    """
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = []
    for entry in document["examples"]:
        text, category = entry.get("text"), entry.get("category")
        level = entry.get("level", NONE if category == NONE else CLEAR)
        language = entry.get("language", "")
        valid = (
            isinstance(text, str)
            and category in (NONE, *CRISIS_CATEGORIES)
            and (level == NONE if category == NONE else level in CRISIS_LEVELS)
            and language in ("", *LANGUAGES)
        )
        if not valid:
            raise ValueError(f"{path.name}: bad example {entry!r} (quote the text?)")
        examples.append(Labelled(text, category, level, language))
    return examples


def load_labelled(path: Path) -> list[tuple[str, str]]:
    """(text, category) pairs of a labelled crisis file; ValueError names a malformed entry."""
    return [(e.text, e.category) for e in load_examples(path)]


def load_tuning_examples(folder: Path) -> list[Example]:
    """The labelled crisis tuning sets (`text`, `category`; `none` for hard negatives)."""
    return [
        Example(text, category, source=path.name)
        for path in sorted(folder.glob("*.yml"))
        for text, category in load_labelled(path)
    ]


def rule_examples(rules_path: Path) -> list[Example]:
    """Each rule phrase as an example of its category, each exception as `none`."""
    document: Any = yaml.safe_load(rules_path.read_text(encoding="utf-8"))
    examples = []
    for category, spec in document["categories"].items():
        for key, label in (("phrases", category), ("exceptions", NONE)):
            for phrase in spec.get(key) or []:
                words = " ".join(w for w in str(phrase).split() if w not in WILDCARDS)
                examples.append(Example(words, label, source="rules"))
    return examples


def training_examples(nlu_dir: Path, tuning_dir: Path, rules_path: Path) -> list[Example]:
    """Everything the classifier learns from (place names alone are never a crisis)."""
    data = load_training_data(nlu_dir)
    nlu = [Example(e.text, CRISIS_INTENTS.get(e.intent, NONE), source="nlu") for e in data.examples]
    places = [Example(p, NONE, source="places") for p in data.lookups.get("location", [])]
    return nlu + places + rule_examples(rules_path) + load_tuning_examples(tuning_dir)


def fingerprint(nlu_dir: Path, tuning_dir: Path, rules_path: Path) -> str:
    """Hash of every input file, this module's version, the trainer's and scikit-learn's."""
    digest = hashlib.sha256(
        f"{MODEL_VERSION}|{embedded.MODEL_VERSION}|{sklearn.__version__}".encode()
    )
    files = [*sorted(nlu_dir.rglob("*.yml")), *sorted(tuning_dir.glob("*.yml")), rules_path]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train_or_load(
    nlu_dir: Path, tuning_dir: Path, rules_path: Path, model_path: Path, *, force: bool = False
) -> tuple[EmbeddedModel, bool]:
    """Reuse the model at `model_path` while its inputs are unchanged; else train and save it."""
    expected = fingerprint(nlu_dir, tuning_dir, rules_path)
    if not force and model_path.is_file():
        model = embedded.load_model(model_path)
        if model is not None and model.fingerprint == expected:
            return model, False
    examples = training_examples(nlu_dir, tuning_dir, rules_path)
    model = embedded.train(TrainingData(examples), expected, balanced=False)
    embedded.save_model(model, model_path)
    return model, True


class CrisisModel:
    """Scores one message; pure, in memory, well under a millisecond."""

    def __init__(
        self,
        model: EmbeddedModel,
        threshold: float = THRESHOLD,
        possible_threshold: float = POSSIBLE_THRESHOLD,
    ) -> None:
        self._labels = model.intents
        self._none = self._labels.index(NONE)
        self._scorer = embedded.FastScorer(model)
        self.threshold = threshold
        self.possible_threshold = min(possible_threshold, threshold)

    def probability(self, text: str) -> float:
        """P(crisis) of the message: 1 - P(none)."""
        return 1.0 - float(self._scores(text)[self._none])

    def signal(self, text: str) -> Crisis:
        """A crisis signal with the likeliest category: clear from the threshold, possible below.

        A message of fewer than two words is left to the rules: n-grams say little about it.
        """
        if len(_WORD.findall(text)) < 2:
            return Crisis()
        scores = self._scores(text)
        probability = 1.0 - float(scores[self._none])
        if probability < self.possible_threshold:
            return Crisis()
        level = CLEAR if probability >= self.threshold else POSSIBLE
        scores[self._none] = -1.0
        category = self._labels[int(scores.argmax())]
        return Crisis(True, category, f"model:{category}:{probability:.2f}", level)

    def _scores(self, text: str) -> Any:
        """Label probabilities of the message, or of its most worrying sentence when it is long."""
        if len(text) <= WINDOW:
            return self._scorer.probabilities(text)
        scored = [self._scorer.probabilities(part) for part in segments(text)]
        return min(scored, key=lambda scores: float(scores[self._none]))


def segments(text: str) -> list[str]:
    """Sentences (cut to WINDOW) taken alternately from the start and the end, within budget."""
    pieces = [
        sentence[i : i + WINDOW]
        for sentence in _SENTENCE_END.split(text)
        if sentence.strip()
        for i in range(0, len(sentence), WINDOW)
    ]
    chosen: list[str] = []
    used = 0
    while pieces and used < BUDGET and len(chosen) < MAX_SEGMENTS:
        piece = pieces.pop(0) if len(chosen) % 2 == 0 else pieces.pop()
        chosen.append(piece)
        used += len(piece)
    return chosen
