"""Entity extraction by lookup: surface forms from annotations, synonyms and lookup tables."""

from __future__ import annotations

import re

from nlu.parser import Entity
from nlu.training_data import TrainingData


class EntityLookup:
    """Whole-word, case-insensitive matching of known surface forms to (entity, canonical value)."""

    def __init__(self, forms: dict[str, tuple[str, str]]) -> None:
        self.forms = forms
        alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<!\w)({alternatives})(?!\w)") if forms else None

    @classmethod
    def from_training_data(cls, data: TrainingData) -> EntityLookup:
        """Collect surface forms from annotated examples, lookup tables and synonyms."""
        forms: dict[str, tuple[str, str]] = {}
        for example in data.examples:
            for ann in example.entities:
                surface = example.text[ann.start : ann.end].lower()
                forms.setdefault(surface, (ann.entity, data.synonyms.get(surface, ann.value)))
        for name, values in data.lookups.items():
            for value in values:
                canonical = data.synonyms.get(value.lower(), value)
                forms.setdefault(value.lower(), (name, canonical))
        return cls(forms)

    def extract(self, text: str) -> tuple[Entity, ...]:
        """Return the longest non-overlapping matches, in text order."""
        if self._pattern is None:
            return ()
        lowered = text.lower()
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []
        for match in self._pattern.finditer(lowered):
            start, end = match.span(1)
            if any(s < end and start < e for s, e in taken):
                continue
            entity, value = self.forms[match.group(1)]
            if entity == "location":
                value = (text if len(text) == len(lowered) else lowered)[start:end]
            found.append(Entity(entity, value, start, end))
            taken.append((start, end))
        return tuple(sorted(found, key=lambda e: e.start))
