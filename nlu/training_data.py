"""Read Rasa 3.1 YAML training data (`nlu/data/*.yml`): intents, examples and entity annotations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# [surface](entity) or [surface]{"entity": "x", "value": "y"}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]*\}))")


class TrainingDataError(ValueError):
    """The training data does not follow the Rasa 3.1 format."""


@dataclass(frozen=True, slots=True)
class AnnotatedEntity:
    """An entity annotated in a training example."""

    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Example:
    """One training example: plain text (annotations removed), its intent and entities."""

    text: str
    intent: str
    entities: tuple[AnnotatedEntity, ...] = ()
    source: str = ""


@dataclass
class TrainingData:
    """All examples plus synonyms (surface form → canonical value) and lookup tables."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        """Intent names in first-seen order."""
        return list(dict.fromkeys(e.intent for e in self.examples))


def parse_example(raw: str, intent: str, source: str = "") -> Example:
    """Strip entity annotations from one example, keeping their spans in the plain text."""
    plain: list[str] = []
    entities: list[AnnotatedEntity] = []
    position = 0
    cursor = 0
    for match in _ANNOTATION.finditer(raw):
        plain.append(raw[cursor : match.start()])
        position += match.start() - cursor
        surface = match["text"]
        if match["name"]:
            name, value = match["name"], surface
        else:
            try:
                spec = json.loads(match["json"])
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{source}: bad entity annotation in {raw!r}") from exc
            name, value = str(spec.get("entity", "")), str(spec.get("value", surface))
        if not name:
            raise TrainingDataError(f"{source}: entity annotation without a name in {raw!r}")
        entities.append(AnnotatedEntity(name, value, position, position + len(surface)))
        plain.append(surface)
        position += len(surface)
        cursor = match.end()
    plain.append(raw[cursor:])
    return Example(
        text="".join(plain).strip(), intent=intent, entities=tuple(entities), source=source
    )


def _items(block: str) -> Iterable[str]:
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("- "):
            yield line[2:].strip()
        elif line:
            raise TrainingDataError(f"example lines must start with '- ', got {line!r}")


def load_file(path: Path, data: TrainingData) -> None:
    """Add the contents of one Rasa training-data file to `data`."""
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict) or not isinstance(document.get("nlu", []), list):
        raise TrainingDataError(f"{path}: expected a mapping with an `nlu:` list")
    for entry in document.get("nlu", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("examples"), str):
            raise TrainingDataError(f"{path}: every nlu entry needs `examples: |`")
        items = list(_items(entry["examples"]))
        if "intent" in entry:
            for raw in items:
                data.examples.append(parse_example(raw, str(entry["intent"]), path.name))
        elif "synonym" in entry:
            for raw in items:
                data.synonyms[raw.lower()] = str(entry["synonym"])
        elif "lookup" in entry:
            data.lookups.setdefault(str(entry["lookup"]), []).extend(items)
        elif "regex" not in entry:
            raise TrainingDataError(f"{path}: unknown nlu entry {sorted(entry)}")


def load_training_data(directory: Path) -> TrainingData:
    """Load every `*.yml` file under `directory`, in name order."""
    data = TrainingData()
    for path in sorted(directory.rglob("*.yml")):
        load_file(path, data)
    if not data.examples:
        raise TrainingDataError(f"{directory}: no training examples found")
    return data
