"""Load `content/` into an immutable, validated store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.content.schema import ConversationItem, Helpline, Localised, Menu, TopicItem

M = TypeVar("M", bound=BaseModel)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~5x faster
Item = TypeVar("Item", TopicItem, ConversationItem)


class ContentError(Exception):
    """Content files are missing or invalid; `problems` lists each one as `file: what`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} content problem(s): " + "; ".join(problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class ContentStore:
    """Everything the engine says, read once from `content/`."""

    root: Path
    topics: dict[str, TopicItem]
    conversation: dict[str, ConversationItem]
    helplines: dict[str, Helpline]
    menu: Menu
    ui: dict[str, Localised]

    @property
    def menu_actions(self) -> dict[str, Localised]:
        """Menu entries that open a flow (find_service, talk_to_counsellor), with their labels."""
        return {t.action: t.label for t in self.menu.topics if t.action}


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - safe
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path}: cannot read YAML ({exc.__class__.__name__})")
        return None


def _model(model: type[M], data: Any, path: Path, problems: list[str]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(file)"
            problems.append(f"{path}: {where}: {error['msg']}")
        return None


def _items(model: type[Item], paths: Iterable[Path], problems: list[str]) -> dict[str, Item]:
    items: dict[str, Item] = {}
    for path in sorted(paths):
        item = _model(model, _read_yaml(path, problems), path, problems)
        if item is None:
            continue
        if item.intent != path.stem:
            problems.append(f"{path}: intent {item.intent!r} must match the file name")
        if item.intent in items:
            problems.append(f"{path}: intent {item.intent!r} is defined twice")
        items[item.intent] = item
    return items


def load_content(root: Path) -> ContentStore:
    """Read and check every content file; raise `ContentError` listing all problems."""
    problems: list[str] = []
    if not root.is_dir():
        raise ContentError([f"{root}: content folder not found"])
    topics = _items(TopicItem, (root / "topics").rglob("*.yml"), problems)
    for intent, item in topics.items():
        folder = next(p for p in (root / "topics").rglob(f"{intent}.yml")).parent.name
        if folder != item.area:
            problems.append(f"topics/{folder}/{intent}.yml: area {item.area!r} != folder")
    conversation = _items(ConversationItem, (root / "conversation").glob("*.yml"), problems)

    raw_helplines = _read_yaml(root / "helplines.yml", problems) or {}
    helplines = {
        key: h
        for key, value in dict(raw_helplines).items()
        if (h := _model(Helpline, value, root / "helplines.yml", problems)) is not None
    }
    menu = _model(Menu, _read_yaml(root / "menu.yml", problems), root / "menu.yml", problems)
    raw_ui = _read_yaml(root / "ui.yml", problems) or {}
    ui = {
        key: text
        for key, value in dict(raw_ui).items()
        if (text := _model(Localised, value, root / "ui.yml", problems)) is not None
    }
    if problems or menu is None:
        raise ContentError(problems or [f"{root / 'menu.yml'}: missing"])
    return ContentStore(root, topics, conversation, helplines, menu, ui)
