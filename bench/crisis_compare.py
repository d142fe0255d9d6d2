"""Score any version's crisis decisions on a labelled crisis set, for before/after figures.

Any commit's `healthbot nlu parse` prints the bot's whole crisis decision for one message per
line, so an older version can be scored with today's measures (levels, categories, languages)
without running its code here:

    python bench/crisis_compare.py texts nlu/tests/crisis.yml > /tmp/texts.txt
    (cd ../before && .venv/bin/healthbot nlu parse < /tmp/texts.txt) > /tmp/before.jsonl
    .venv/bin/healthbot nlu parse < /tmp/texts.txt > /tmp/after.jsonl
    python bench/crisis_compare.py score nlu/tests/crisis.yml /tmp/before.jsonl /tmp/after.jsonl

A decision without a level (versions before issue 16) counts as clear. Only totals and
breakdowns are printed, never the messages: the set stays fit to measure with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu.evaluate import CrisisEvaluation, Outcome, load_crisis_examples
from nlu.parser import CLEAR, Crisis


def texts(labelled: Path) -> None:
    """One message per line (line breaks inside a message become spaces)."""
    for example in load_crisis_examples(labelled):
        sys.stdout.write(" ".join(example.text.split()) + "\n")


def decisions(parsed: Path) -> list[Crisis]:
    """The crisis decisions of a `healthbot nlu parse` output, in order."""
    found = []
    for line in parsed.read_text("utf-8").splitlines():
        crisis = json.loads(line).get("crisis") or {}
        detected = bool(crisis.get("detected"))
        found.append(
            Crisis(
                detected,
                crisis.get("category"),
                crisis.get("matched"),
                (crisis.get("level") or CLEAR) if detected else None,
                crisis.get("subject") == "friend",
            )
        )
    return found


def score(labelled: Path, runs: list[Path]) -> None:
    """A Markdown table per run: totals, then by level, category and language."""
    examples = load_crisis_examples(labelled)
    for run in runs:
        got = decisions(run)
        if len(got) != len(examples):
            raise SystemExit(f"{run}: {len(got)} decisions for {len(examples)} examples")
        outcomes = [Outcome(e, c) for e, c in zip(examples, got, strict=True)]
        evaluation = CrisisEvaluation(outcomes, [])
        print(f"\n### {run.name}\n")
        print(
            f"recall {evaluation.recall:.3f} (clear cases {evaluation.clear_recall:.3f}, "
            f"answered as clear {evaluation.clear_as_clear:.3f}), false alarms "
            f"{evaluation.false_positive_rate:.3f}; {evaluation.crises} crises, "
            f"{evaluation.negatives} hard negatives"
        )
        for by in ("level", "category", "language"):
            print(f"\n| {by} | crises | recall | hard negatives | false alarms |")
            print("|---|---|---|---|---|")
            for group, crises, recall, negatives, rate in evaluation.breakdown(by):
                print(f"| {group} | {crises} | {_cell(recall)} | {negatives} | {_cell(rate)} |")


def _cell(value: float) -> str:
    return "–" if value != value else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("texts", help="print the set's messages, one per line")
    listing.add_argument("labelled", type=Path)
    scoring = commands.add_parser("score", help="score parse outputs against the set")
    scoring.add_argument("labelled", type=Path)
    scoring.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "texts":
        texts(args.labelled)
    else:
        score(args.labelled, args.runs)


if __name__ == "__main__":
    main()
