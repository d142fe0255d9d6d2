"""`healthbot nlu evaluate`: accuracy, macro-F1, per-intent scores and confusions."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from nlu import crisis_model
from nlu.crisis_model import NONE, Labelled
from nlu.detector import CrisisDetector
from nlu.embedded import EmbeddedParser, train
from nlu.language import detect_language
from nlu.parser import CLEAR, Crisis, Parser, ParserUnavailable
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


POSSIBLE_WEIGHT = 0.5  # a check-in on a hard negative counts as half a false alarm


@dataclass(frozen=True)
class Outcome:
    """What the crisis check decided for one labelled example."""

    example: Labelled
    got: Crisis

    @property
    def caught(self) -> bool:
        """A crisis detected at any level (clear or possible)."""
        return self.example.category != NONE and self.got.detected

    @property
    def alarm(self) -> float:
        """On a hard negative: 1 for a clear alarm, POSSIBLE_WEIGHT for a check-in, else 0."""
        if self.example.category != NONE or not self.got.detected:
            return 0.0
        return 1.0 if self.got.clear else POSSIBLE_WEIGHT


@dataclass
class CrisisEvaluation:
    """Recall and false alarms of the crisis check (rules, classifier, then the NLU's intents)."""

    outcomes: list[Outcome]
    check_ms: list[float]

    @property
    def crises(self) -> int:
        """Examples that are crises (any level)."""
        return sum(1 for o in self.outcomes if o.example.category != NONE)

    @property
    def negatives(self) -> int:
        """Hard negatives."""
        return len(self.outcomes) - self.crises

    @property
    def recall(self) -> float:
        """Share of crises detected, at any level (a check-in still offers help)."""
        return _recall(self.outcomes)

    @property
    def clear_recall(self) -> float:
        """Share of the crises labelled clear that were detected, at any level."""
        return _recall([o for o in self.outcomes if o.example.level == CLEAR])

    @property
    def clear_as_clear(self) -> float:
        """Share of the crises labelled clear answered as clear (the safety answer at once)."""
        clear = [o for o in self.outcomes if o.example.level == CLEAR]
        return sum(1 for o in clear if o.got.clear) / len(clear) if clear else float("nan")

    @property
    def false_positive_rate(self) -> float:
        """Weighted false alarms per hard negative (a check-in counts POSSIBLE_WEIGHT)."""
        return _alarm_rate(self.outcomes)

    @property
    def misses(self) -> list[tuple[str, str]]:
        """(text, expected category) of every crisis not detected."""
        return [
            (o.example.text, o.example.category)
            for o in self.outcomes
            if o.example.category != NONE and not o.got.detected
        ]

    @property
    def false_alarms(self) -> list[tuple[str, str]]:
        """(text, what fired) of every hard negative that fired."""
        return [
            (o.example.text, f"{o.got.level or CLEAR} {o.got.category} ({o.got.matched})")
            for o in self.outcomes
            if o.alarm
        ]

    @property
    def wrong_category(self) -> list[tuple[str, str, str]]:
        """(text, expected, got) of crises detected under another category."""
        return [
            (o.example.text, o.example.category, str(o.got.category))
            for o in self.outcomes
            if o.caught and o.got.category != o.example.category
        ]

    def breakdown(self, by: str) -> list[tuple[str, int, float, int, float]]:
        """(group, crises, recall, hard negatives, false-alarm rate) per level, category or
        language of the examples."""
        groups: dict[str, list[Outcome]] = {}
        for outcome in self.outcomes:
            example = outcome.example
            key = {"level": example.level, "category": example.category}.get(by, example.language)
            groups.setdefault(key, []).append(outcome)
        rows = []
        for key in sorted(groups):
            outcomes = groups[key]
            crises = [o for o in outcomes if o.example.category != NONE]
            negatives = [o for o in outcomes if o.example.category == NONE]
            rows.append((key, len(crises), _recall(crises), len(negatives), _alarm_rate(negatives)))
        return rows


def _recall(outcomes: list[Outcome]) -> float:
    crises = [o for o in outcomes if o.example.category != NONE]
    return sum(1 for o in crises if o.caught) / len(crises) if crises else float("nan")


def _alarm_rate(outcomes: list[Outcome]) -> float:
    negatives = [o for o in outcomes if o.example.category == NONE]
    return sum(o.alarm for o in negatives) / len(negatives) if negatives else float("nan")


def load_crisis_examples(path: Path) -> list[Labelled]:
    """The labelled crisis examples; an example without a language gets en or sw by detection."""
    return [
        e if e.language else replace(e, language=detect_language(e.text))
        for e in crisis_model.load_examples(path)
    ]


async def evaluate_crisis(
    detector: CrisisDetector, parser: Parser, examples: list[Labelled]
) -> CrisisEvaluation:
    """Run the bot's crisis check on every example, as the engine does."""
    outcomes, timings = [], []
    for example in examples:
        started = time.perf_counter()
        crisis = detector.check(example.text)
        timings.append((time.perf_counter() - started) * 1000)
        if not crisis.detected:
            with contextlib.suppress(ParserUnavailable):
                crisis = detector.confirm(example.text, (await parser.parse(example.text)).crisis)
        outcomes.append(Outcome(example, crisis))
    return CrisisEvaluation(outcomes, timings)


def crisis_summary(name: str, e: CrisisEvaluation, *, details: bool = True) -> str:
    """Terminal lines: the totals, per level, category and language, then (with `details`) every
    miss and false alarm."""
    lines = [
        f"crisis ({name}): {e.crises} crises, {e.negatives} hard negatives, recall {e.recall:.3f} "
        f"(clear cases {e.clear_recall:.3f}, answered as clear {e.clear_as_clear:.3f}), "
        f"false alarms {e.false_positive_rate:.3f}, check p99 "
        f"{float(np.percentile(e.check_ms, 99)):.3f} ms",
    ]
    for by in ("level", "category", "language"):
        cells = [
            f"{group} {recall:.2f}/{crises}" + (f" fa {rate:.2f}/{negatives}" if negatives else "")
            for group, crises, recall, negatives, rate in e.breakdown(by)
        ]
        lines.append(f"  by {by}: " + ", ".join(cells))
    if not details:
        return "\n".join(lines)
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
        "signal at the level the rules' frames leave it (clear, possible) or quieted. Recall",
        "counts a crisis caught at either level; a check-in (possible) on a hard negative counts",
        "as half a false alarm. Targets: recall 1.00 on clear cases, false alarms ≤ 0.03.",
        "",
        "| set | role | crises | hard negatives | recall | clear cases caught"
        " | clear answered as clear | false alarms |",
        "|---|---|---|---|---|---|---|---|",
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
    for by in ("level", "category", "language"):
        lines += [
            "",
            f"`{name}` by {by}:",
            "",
            f"| {by} | crises | recall | hard negatives | false alarms |",
        ]
        lines += ["|---|---|---|---|---|"]
        lines += [
            f"| {group} | {crises} | {_cell(recall)} | {negatives} | {_cell(rate)} |"
            for group, crises, recall, negatives, rate in e.breakdown(by)
        ]
    for set_name, evaluation in [test, *tuning]:
        lines += ["", f"### `{set_name}`", "", "Missed:", ""]
        lines += [f"- ({x}) {text}" for text, x in evaluation.misses] or ["- none"]
        lines += ["", "False alarms:", ""]
        lines += [f"- ({got}) {text}" for text, got in evaluation.false_alarms] or ["- none"]
    return "\n".join(lines) + "\n"


def _cell(value: float) -> str:
    return "–" if value != value else f"{value:.3f}"  # NaN: no example in the group


def _crisis_row(name: str, role: str, e: CrisisEvaluation) -> str:
    recall = f"**{e.recall:.3f}**" if e.crises else "–"
    return (
        f"| `{name}` | {role} | {e.crises} | {e.negatives} | {recall} | {_cell(e.clear_recall)} "
        f"| {_cell(e.clear_as_clear)} | **{_cell(e.false_positive_rate)}** |"
    )
