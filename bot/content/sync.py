"""Between `content/` (the versioned source) and the database (what the bot serves).

`import_files` publishes the files' items that are new or changed since they were last imported;
the bot runs it on every start, and `healthbot content import` runs it by hand (`--force` lets the
files win over console edits). `export_files` writes the published state back to YAML, touching
only the files whose content differs, so the change can be reviewed in git.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import revisions
from bot.content.live import file_items
from bot.content.store import ContentStore, load_content
from nlu.examples import raw_examples, write_examples

log = logging.getLogger(__name__)

IMPORTER = "content files"
IMPORT_ATTEMPTS = 5  # the bot and the console start together and import at the same moment


async def import_files(
    sessions: async_sessionmaker[AsyncSession],
    content_dir: Path,
    nlu_dir: Path,
    *,
    force: bool = False,
    store: ContentStore | None = None,
) -> revisions.ImportReport:
    """Publish the files' new and changed items (retried once if another process races us)."""
    items = file_items(store or load_content(content_dir), raw_examples(nlu_dir))
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            async with sessions() as session, session.begin():
                return await revisions.import_items(session, items, author=IMPORTER, force=force)
        except (IntegrityError, OperationalError):
            if attempt == IMPORT_ATTEMPTS:
                raise
            log.info("another process is importing content at the same time; trying again")
            await asyncio.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


@dataclass
class ExportReport:
    """The files `export_files` wrote."""

    written: list[Path] = field(default_factory=list)


async def export_files(
    sessions: async_sessionmaker[AsyncSession], content_dir: Path, nlu_dir: Path
) -> ExportReport:
    """Write every published item that differs from its file, and its training examples."""
    report = ExportReport()
    store = load_content(content_dir)
    on_disk = file_items(store, raw_examples(nlu_dir))
    async with sessions() as session:
        rows = await revisions.published(session)
    for item, row in sorted(rows.items()):
        _kind, current = on_disk.get(item, (row.kind, {}))
        fields = {k: v for k, v in row.body.items() if k != "examples"}
        if fields != {k: v for k, v in current.items() if k != "examples"}:
            path = _item_path(content_dir, store, item, row.kind, fields)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump_item(fields), encoding="utf-8")
            report.written.append(path)
        examples = revisions.examples_of(row.body)
        if examples and examples != revisions.examples_of(current):
            report.written.append(write_examples(nlu_dir, item, examples))
    return report


def _item_path(
    content_dir: Path, store: ContentStore, item: str, kind: str, fields: dict[str, Any]
) -> Path:
    if kind == "conversation":
        return content_dir / "conversation" / f"{item}.yml"
    existing = next((content_dir / "topics").rglob(f"{item}.yml"), None)
    return existing or content_dir / "topics" / str(fields["area"]) / f"{item}.yml"


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line text, flow lists for short id lists, keys in schema order."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = all(isinstance(v, str) and "\n" not in v and len(v) < 40 for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(list, _list)


def dump_item(fields: dict[str, Any]) -> str:
    """One content item as YAML, in the house style of `content/`."""
    values = {
        k: date.fromisoformat(v) if k in ("reviewed_on", "next_review") else v
        for k, v in fields.items()
    }
    return yaml.dump(values, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
