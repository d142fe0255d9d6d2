"""The embedded parser: a scikit-learn intent classifier on character and word n-grams.

Character n-grams (2-5, inside word boundaries) cope with Sheng, typos and code-switching; word
uni- and bigrams add phrase evidence. A linear SVM (balanced class weights) separates the intents;
its scores become probabilities through a softmax with a temperature fitted on out-of-fold scores,
so a confidence of 0.4 means roughly what it says. Training happens once per change of the
training data: the model file records a fingerprint of `nlu/data`, `nlu/config.yml` and this
module's version.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from nlu.crisis import crisis_from_ranking
from nlu.entities import EntityLookup
from nlu.language import detect_language
from nlu.parser import IntentScore, ParseResult, ParserUnavailable
from nlu.text import normalise
from nlu.training_data import TrainingData, load_training_data

log = logging.getLogger(__name__)

MODEL_VERSION = "2"
SVM_C = 1.0
TEMPERATURES = np.geomspace(0.5, 50.0, 60)
RANKING_SIZE = 10


@dataclass
class EmbeddedModel:
    """What a training run produces and what is pickled to disk."""

    fingerprint: str
    features: FeatureUnion
    classifier: LinearSVC
    temperature: float
    entities: EntityLookup

    @property
    def intents(self) -> list[str]:
        """The intent names the classifier knows."""
        return [str(c) for c in self.classifier.classes_]


def fingerprint(data_dir: Path, config_path: Path | None = None) -> str:
    """Hash of the training files, the Rasa config, this module's version and scikit-learn's."""
    digest = hashlib.sha256(f"{MODEL_VERSION}|{sklearn.__version__}".encode())
    paths = sorted(data_dir.rglob("*.yml"))
    if config_path is not None and config_path.is_file():
        paths.append(config_path)
    for path in paths:
        digest.update(str(path.relative_to(data_dir.parent)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_features() -> FeatureUnion:
    """The feature pipeline: char_wb 2-5 and word 1-2 TF-IDF, sublinear."""
    return FeatureUnion(
        [
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                    min_df=1,
                    preprocessor=normalise,
                    dtype=np.float32,
                ),
            ),
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    token_pattern=r"(?u)\b\w+\b",  # noqa: S106
                    preprocessor=normalise,
                    dtype=np.float32,
                ),
            ),
        ]
    )


def train(
    data: TrainingData, fingerprint_value: str = "", *, balanced: bool = True
) -> EmbeddedModel:
    """Fit the classifier on every example and its temperature on 3-fold out-of-fold scores.

    `balanced` weights classes by their inverse frequency; without it a large class (the crisis
    classifier's `none`) keeps the prior it has in the data.
    """
    texts = [e.text for e in data.examples]
    labels = np.array([e.intent for e in data.examples])
    features = build_features()
    matrix = features.fit_transform(texts)
    classifier = _svm(balanced).fit(matrix, labels)
    temperature = _fit_temperature(texts, labels, balanced)
    return EmbeddedModel(
        fingerprint_value,
        features,
        classifier,
        temperature,
        EntityLookup.from_training_data(data),
    )


def _svm(balanced: bool = True) -> LinearSVC:
    return LinearSVC(C=SVM_C, class_weight="balanced" if balanced else None)


def _fit_temperature(texts: list[str], labels: Any, balanced: bool = True) -> float:
    """The softmax temperature with the lowest out-of-fold negative log-likelihood."""
    counts = np.unique(labels, return_counts=True)[1]
    folds = int(min(3, counts.min()))
    if folds < 2 or len(counts) < 2:
        return 1.0
    scores = np.zeros((len(texts), len(counts)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_index, test_index in splitter.split(np.zeros(len(labels)), labels):
        features = build_features()
        matrix = features.fit_transform([texts[i] for i in train_index])
        fold = _svm(balanced).fit(matrix, labels[train_index])
        decision = fold.decision_function(features.transform([texts[i] for i in test_index]))
        scores[test_index] = decision if decision.ndim == 2 else np.c_[-decision, decision] / 2
    truth = np.searchsorted(np.unique(labels), labels)
    best, best_loss = 1.0, np.inf
    for temperature in TEMPERATURES:
        scaled = scores * temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(len(truth)), truth].mean()
        if loss < best_loss:
            best, best_loss = float(temperature), float(loss)
    return best


def reference_probabilities(model: EmbeddedModel, texts: list[str]) -> Any:
    """Probabilities computed through scikit-learn itself (what the fast path must equal)."""
    decision = model.classifier.decision_function(model.features.transform(texts))
    if decision.ndim == 1:
        decision = np.c_[np.zeros_like(decision), decision]
    scaled = decision * model.temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def train_or_load(
    data_dir: Path, model_path: Path, config_path: Path | None = None, *, force: bool = False
) -> tuple[EmbeddedModel, bool]:
    """Reuse the model at `model_path` when its fingerprint matches; else train and save it.

    Returns the model and whether it was (re)trained.
    """
    expected = fingerprint(data_dir, config_path)
    if not force and model_path.is_file():
        model = load_model(model_path)
        if model is not None and model.fingerprint == expected:
            return model, False
    model = train(load_training_data(data_dir), expected)
    save_model(model, model_path)
    return model, True


def save_model(model: EmbeddedModel, path: Path) -> None:
    """Write the model atomically (a half-written file is never read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)


def load_model(path: Path) -> EmbeddedModel | None:
    """Read a model file the project wrote itself; None when it is unreadable or stale."""
    try:
        model: Any = pickle.loads(path.read_bytes())  # noqa: S301 - our own model file
    except Exception:  # a model from another library version is simply retrained
        log.info("embedded NLU model at %s is unreadable; it will be retrained", path)
        return None
    return model if isinstance(model, EmbeddedModel) else None


class FastScorer:
    """Linear scores for one text without scikit-learn's per-call validation overhead.

    Uses each vectorizer's own analyzer, vocabulary and idf, so the scores equal
    `classifier.decision_function(features.transform([text]))` (a test checks this).
    """

    def __init__(self, model: EmbeddedModel) -> None:
        self._parts: list[tuple[Any, dict[str, int], Any, Any]] = []
        coef = np.asarray(model.classifier.coef_, dtype=np.float64)
        intercept = np.asarray(model.classifier.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:  # two classes: one score s for class 1, i.e. softmax([0, s])
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        offset = 0
        for _name, vectorizer in model.features.transformer_list:
            size = len(vectorizer.vocabulary_)
            self._parts.append(
                (
                    vectorizer.build_analyzer(),
                    vectorizer.vocabulary_,
                    np.asarray(vectorizer.idf_, dtype=np.float64),
                    np.ascontiguousarray(coef[:, offset : offset + size].T),
                )
            )
            offset += size
        self._intercept = intercept
        self._temperature = model.temperature

    def probabilities(self, text: str) -> Any:
        scores = self._intercept.copy()
        for analyzer, vocabulary, idf, weights in self._parts:
            counts: dict[int, int] = {}
            for gram in analyzer(text):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            indices = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * idf[indices]
            values /= np.sqrt(values @ values)
            scores += values @ weights[indices]
        scores *= self._temperature
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()


class EmbeddedParser:
    """The in-process parser behind the `Parser` protocol."""

    def __init__(self, model: EmbeddedModel) -> None:
        self.use(model)
        self.parses = 0  # answered through `parse` (for the metrics)

    def use(self, model: EmbeddedModel) -> None:
        """Parse with `model` from now on (retrained with editors' published examples)."""
        self._model = model
        self._intents = model.intents
        self._scorer = FastScorer(model)

    @property
    def intents(self) -> list[str]:
        """The intent names the model knows."""
        return list(self._intents)

    def parse_sync(self, text: str, language: str | None = None) -> ParseResult:
        """Parse one message in the calling thread."""
        if not text.strip():
            raise ParserUnavailable("nothing to parse")
        scores = self._scorer.probabilities(text)
        order = np.argsort(scores)[::-1][:RANKING_SIZE]
        ranking = tuple(IntentScore(self._intents[i], float(scores[i])) for i in order)
        top = ranking[0]
        return ParseResult(
            text=text,
            intent=top,
            intent_ranking=ranking,
            entities=self._model.entities.extract(text),
            language=language or detect_language(text),
            crisis=crisis_from_ranking(ranking, "intent"),
        )

    async def parse(self, text: str) -> ParseResult:
        """Parse one message (CPU-bound and sub-millisecond, so it runs inline)."""
        result = self.parse_sync(text)
        self.parses += 1
        return result
