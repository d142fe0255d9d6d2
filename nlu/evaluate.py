"""`healthbot nlu evaluate`: accuracy, macro-F1, per-intent scores and confusions."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from nlu import crisis_model
from nlu.detector import CrisisDetector
from nlu.embedded import EmbeddedParser, train
from nlu.parser import Parser, ParserUnavailable
from nlu.training_data import Example, TrainingData, load_file, load_training_data


@dataclass
class Evaluation:
    """Scores of one backend on one labelled set."""

    backend: str
    examples: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, tuple[float, float, float, int]]
    confusions: list[tuple[str, str, int]]
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0

    def latency(self, q: float) -> float:
        """A latency percentile in milliseconds."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def load_labelled(path: Path) -> list[Example]:
    """Examples from one Rasa-format file (the held-out set)."""
    data = TrainingData()
    load_file(path, data)
    return data.examples


def score(backend: str, truth: list[str], predicted: list[str]) -> Evaluation:
    """Accuracy, macro-F1 over the true labels, per-intent P/R/F1/support, top confusions."""
    labels = sorted(set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    per_intent = {
        label: (float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    pairs = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    return Evaluation(
        backend=backend,
        examples=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        per_intent=per_intent,
        confusions=[(t, p, n) for (t, p), n in pairs.most_common(10)],
    )


async def evaluate_parser(backend: str, parser: Parser, examples: list[Example]) -> Evaluation:
    """Parse every example; a failed parse counts as wrong (intent `<unavailable>`)."""
    predicted: list[str] = []
    latencies: list[float] = []
    failures = 0
    for example in examples:
        started = time.perf_counter()
        try:
            predicted.append((await parser.parse(example.text)).intent.name)
        except ParserUnavailable:
            failures += 1
            predicted.append("<unavailable>")
        latencies.append((time.perf_counter() - started) * 1000)
    evaluation = score(backend, [e.intent for e in examples], predicted)
    evaluation.latencies_ms = latencies
    evaluation.failures = failures
    return evaluation


def cross_validate(data_dir: Path, folds: int = 5, seed: int = 0) -> Evaluation:
    """Stratified k-fold cross-validation of the embedded parser on the training data."""
    data = load_training_data(data_dir)
    examples = data.examples
    labels = np.array([e.intent for e in examples])
    predicted = np.empty(len(examples), dtype=object)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_index, test_index in splitter.split(np.zeros(len(labels)), labels):
        fold = TrainingData([examples[i] for i in train_index], data.synonyms, data.lookups)
        parser = EmbeddedParser(train(fold))
        for i in test_index:
            predicted[i] = parser.parse_sync(examples[i].text).intent.name
    return score(f"embedded ({folds}-fold CV)", list(labels), [str(p) for p in predicted])


def report(evaluations: list[Evaluation], held_out: Path) -> str:
    """The Markdown report written to docs/nlu-report.md."""
    lines = [
        "# NLU evaluation",
        "",
        f"Held-out set: `{held_out.name}` (never trained on). Written by `healthbot nlu evaluate`;",
        "regenerate: `healthbot nlu evaluate --backend both --cv` while `make rasa-serve` runs.",
        "",
    ]
    lines += ["| backend | examples | accuracy | macro-F1 | parse p50 | parse p99 | failures |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for e in evaluations:
        lat = f"{e.latency(50):.2f} ms | {e.latency(99):.2f} ms" if e.latencies_ms else "– | –"
        scores = f"{e.accuracy:.3f} | {e.macro_f1:.3f}"
        lines.append(f"| {e.backend} | {e.examples} | {scores} | {lat} | {e.failures} |")
    for e in evaluations:
        lines += ["", f"## {e.backend}", "", "| intent | precision | recall | F1 | support |"]
        lines += ["|---|---|---|---|---|"]
        for intent, (p, r, f, s) in sorted(e.per_intent.items()):
            lines.append(f"| {intent} | {p:.2f} | {r:.2f} | {f:.2f} | {s} |")
        lines += ["", "Most confused (true → predicted, count):", ""]
        lines += [f"- {t} → {p}: {n}" for t, p, n in e.confusions] or ["- none"]
    return "\n".join(lines) + "\n"


def summary(e: Evaluation) -> str:
    """A few lines for the terminal."""
    text = (
        f"{e.backend}: {e.examples} examples, accuracy {e.accuracy:.3f}, macro-F1 {e.macro_f1:.3f}"
    )
    if e.latencies_ms:
        text += f", parse p50 {e.latency(50):.2f} ms p99 {e.latency(99):.2f} ms"
    worst = sorted(e.per_intent.items(), key=lambda item: item[1][2])[:5]
    text += "\n  weakest F1: " + ", ".join(f"{i} {v[2]:.2f}" for i, v in worst)
    text += "\n  most confused: " + ", ".join(f"{t}→{p} ({n})" for t, p, n in e.confusions[:5])
    return text


@dataclass
class CrisisEvaluation:
    """Recall and false alarms of the crisis check (rules, classifier, then the NLU's intents)."""

    crises: int
    negatives: int
    misses: list[tuple[str, str]]  # (text, expected category)
    false_alarms: list[tuple[str, str]]  # (text, category that fired)
    wrong_category: list[tuple[str, str, str]]  # (text, expected, got)
    check_ms: list[float]

    @property
    def recall(self) -> float:
        """Share of crises detected (any category)."""
        return 1 - len(self.misses) / self.crises if self.crises else float("nan")

    @property
    def false_positive_rate(self) -> float:
        """Share of hard negatives that fired."""
        return len(self.false_alarms) / self.negatives if self.negatives else float("nan")


def load_crisis_examples(path: Path) -> list[tuple[str, str]]:
    """(text, category) pairs from the labelled crisis file; category `none` for negatives."""
    return crisis_model.load_labelled(path)


async def evaluate_crisis(
    detector: CrisisDetector, parser: Parser, examples: list[tuple[str, str]]
) -> CrisisEvaluation:
    """Run the bot's crisis check on every example, as the engine does."""
    misses, false_alarms, wrong = [], [], []
    timings = []
    for text, expected in examples:
        started = time.perf_counter()
        crisis = detector.check(text)
        timings.append((time.perf_counter() - started) * 1000)
        if not crisis.detected:
            with contextlib.suppress(ParserUnavailable):
                crisis = detector.confirm(text, (await parser.parse(text)).crisis)
        if expected == "none":
            if crisis.detected:
                false_alarms.append((text, f"{crisis.category} ({crisis.matched})"))
        elif not crisis.detected:
            misses.append((text, expected))
        elif crisis.category != expected:
            wrong.append((text, expected, str(crisis.category)))
    crises = sum(1 for _, c in examples if c != "none")
    return CrisisEvaluation(crises, len(examples) - crises, misses, false_alarms, wrong, timings)


def crisis_summary(name: str, e: CrisisEvaluation) -> str:
    """Terminal lines, with every miss and false alarm."""
    lines = [
        f"crisis ({name}): {e.crises} crises, {e.negatives} hard negatives, recall {e.recall:.3f}, "
        f"false-positive rate {e.false_positive_rate:.3f}, check p99 "
        f"{float(np.percentile(e.check_ms, 99)):.3f} ms",
    ]
    lines += [f"  MISSED ({expected}): {text}" for text, expected in e.misses]
    lines += [f"  false alarm ({got}): {text}" for text, got in e.false_alarms]
    return "\n".join(lines)


def crisis_report(
    test: tuple[str, CrisisEvaluation],
    tuning: list[tuple[str, CrisisEvaluation]],
    *,
    without_classifier: CrisisEvaluation | None = None,
) -> str:
    """The Markdown section appended to docs/nlu-report.md: the held-out set, then tuning sets."""
    name, e = test
    lines = [
        "",
        "## Crisis detection",
        "",
        "The bot's own check: the phrase rules in `content/safety/rules.yml`, the crisis",
        "classifier (`nlu/crisis_model.py`), then the embedded parser's crisis intents, each",
        "signal subject to the rules' exceptions and frames. Targets: recall 1.00,",
        "false-positive rate ≤ 0.03.",
        "",
        "| set | role | crises | hard negatives | recall | false-positive rate |",
        "|---|---|---|---|---|---|",
        _crisis_row(name, "held out: never used to write rules or train", e),
    ]
    if without_classifier is not None:
        lines.append(_crisis_row(name, "held out, rules and NLU intents only", without_classifier))
    role = "tuning: rules written from it, classifier trained on it (in-sample)"
    lines += [_crisis_row(n, role, t) for n, t in tuning]
    lines += [
        "",
        f"Rules and classifier on `{name}`: p50 {float(np.percentile(e.check_ms, 50)):.3f} ms, "
        f"p99 {float(np.percentile(e.check_ms, 99)):.3f} ms per message; crises detected under "
        f"another category: {len(e.wrong_category)}.",
    ]
    for set_name, evaluation in [test, *tuning]:
        lines += ["", f"### `{set_name}`", "", "Missed:", ""]
        lines += [f"- ({x}) {text}" for text, x in evaluation.misses] or ["- none"]
        lines += ["", "False alarms:", ""]
        lines += [f"- ({got}) {text}" for text, got in evaluation.false_alarms] or ["- none"]
    return "\n".join(lines) + "\n"


def _crisis_row(name: str, role: str, e: CrisisEvaluation) -> str:
    recall = f"**{e.recall:.3f}**" if e.crises else "–"
    rate = f"**{e.false_positive_rate:.3f}**"
    return f"| `{name}` | {role} | {e.crises} | {e.negatives} | {recall} | {rate} |"
