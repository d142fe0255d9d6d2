"""Training examples per intent, as editors see them (raw lines, entity annotations kept).

The web console edits one intent's examples at a time; `healthbot content export` writes them back
into `nlu/data/*.yml` in place: the intent's first block is rewritten and any later block of the
same intent in other files is removed, so a git diff shows exactly the examples that changed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from nlu.training_data import TrainingData, load_training_data, parse_example

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~5x faster
_BLOCK_START = re.compile(r"^- (intent|synonym|lookup|regex):", re.MULTILINE)


def raw_examples(directory: Path) -> dict[str, list[str]]:
    """Every intent's example lines, in file and line order."""
    found: dict[str, list[str]] = {}
    for path in sorted(directory.rglob("*.yml")):
        document: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}  # noqa: S506
        for entry in document.get("nlu", []) or []:
            if isinstance(entry, dict) and "intent" in entry:
                lines = str(entry.get("examples", "")).splitlines()
                found.setdefault(str(entry["intent"]), []).extend(
                    line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")
                )
    return found


def clean_examples(lines: list[str]) -> list[str]:
    """Trim, drop blanks, bullets and duplicates (case-insensitive), keep the order."""
    seen: set[str] = set()
    kept: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith("- "):
            text = text[2:].strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            kept.append(text)
    return kept


def with_examples(data: TrainingData, overrides: Mapping[str, list[str]]) -> TrainingData:
    """`data` with the examples of each intent in `overrides` replaced by the given lines."""
    kept = [e for e in data.examples if e.intent not in overrides]
    added = [
        parse_example(raw, intent, "console")
        for intent, lines in overrides.items()
        for raw in lines
    ]
    return TrainingData(kept + added, dict(data.synonyms), dict(data.lookups))


def training_data_with(directory: Path, overrides: Mapping[str, list[str]]) -> TrainingData:
    """The files' training data with the console's published examples in place."""
    return with_examples(load_training_data(directory), overrides)


def write_examples(directory: Path, intent: str, lines: list[str]) -> Path:
    """Rewrite `intent`'s examples in the files; returns the file that now holds them."""
    holder: Path | None = None
    for path in sorted(directory.rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        blocks = _split_blocks(text)
        changed = False
        for index, block in enumerate(blocks):
            if not block.startswith(f"- intent: {intent}\n"):
                continue
            blocks[index] = _block(intent, lines) if holder is None else ""
            holder = holder or path
            changed = True
        if changed:
            path.write_text("".join(blocks), encoding="utf-8")
    if holder is None:  # a new intent's examples go in a file of their own
        holder = directory / f"{intent}.yml"
        holder.write_text('version: "3.1"\nnlu:\n' + _block(intent, lines), encoding="utf-8")
    return holder


def _split_blocks(text: str) -> list[str]:
    """The file as [preamble, block, block, ...]; joining them gives the file back."""
    starts = [m.start() for m in _BLOCK_START.finditer(text)]
    edges = [0, *starts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges) if b > a or a == 0]


def _block(intent: str, lines: list[str]) -> str:
    body = "".join(f"    - {line}\n" for line in lines)
    return f"- intent: {intent}\n  examples: |\n{body}"
