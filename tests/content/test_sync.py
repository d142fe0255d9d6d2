"""content/ ⇄ database: import on start, export for git review, training examples in place."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import paths
from bot.content import revisions
from bot.content.store import load_content
from bot.content.sync import dump_item, export_files, import_files
from bot.content.validate import validate
from bot.runtime import ExampleTrainer
from nlu.embedded import EmbeddedModel, EmbeddedParser
from nlu.examples import raw_examples, write_examples
from nlu.training_data import load_training_data
from tests.test_cli import healthbot


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of content/ and nlu/data/ to export into."""
    content, nlu = tmp_path / "content", tmp_path / "nlu"
    shutil.copytree(paths.CONTENT_DIR, content)
    shutil.copytree(paths.NLU_DATA_DIR, nlu)
    return content, nlu


async def edit(
    sessions: async_sessionmaker[AsyncSession], item: str, field: str, en: str, examples: list[str]
) -> None:
    async with sessions() as session, session.begin():
        body = dict((await revisions.published(session))[item].body)
        body[field] = {**body[field], "en": en}
        if examples:
            body["examples"] = examples
        kind = "topic" if "area" in body else "conversation"
        draft = await revisions.save_draft(session, item=item, kind=kind, body=body, author="ed")
        await revisions.submit(session, item=item, number=draft.number, actor="ed")
        await revisions.approve(
            session, item=item, number=draft.number, reviewer="rev", today=date(2026, 12, 1)
        )


async def test_export_writes_only_what_changed_and_import_reads_it_back(
    sessions: async_sessionmaker[AsyncSession], tree: tuple[Path, Path]
) -> None:
    content, nlu = tree
    await import_files(sessions, content, nlu)
    assert (await export_files(sessions, content, nlu)).written == []  # nothing to write

    new_examples = ["is prep for me", "where can i get prep", "prep side effects"]
    await edit(sessions, "hiv_prep", "answer", "PrEP, in short: a pill a day.\n", new_examples)
    await edit(sessions, "greet", "answer", "Hi! Ask me anything.\n", [])
    written = (await export_files(sessions, content, nlu)).written

    assert sorted(p.relative_to(content.parent).as_posix() for p in written) == [
        "content/conversation/greet.yml",
        "content/topics/hiv/hiv_prep.yml",
        "nlu/hiv.yml",
    ]
    store = load_content(content)
    assert store.topics["hiv_prep"].answer.en == "PrEP, in short: a pill a day.\n"
    assert store.topics["hiv_prep"].reviewed_on == date(2026, 12, 1)
    assert store.conversation["greet"].answer.en == "Hi! Ask me anything.\n"
    assert raw_examples(nlu)["hiv_prep"] == new_examples
    assert raw_examples(nlu)["hiv_testing"] == raw_examples(paths.NLU_DATA_DIR)["hiv_testing"]
    assert validate(content, nlu).ok  # the exported tree passes `healthbot content validate`
    report = await import_files(sessions, content, nlu)
    assert report.imported == [] and report.conflicts == []  # the files now match


def test_examples_are_rewritten_in_place_and_duplicate_blocks_removed(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: x\n  examples: |\n    - one\n    - two\n'
        "- intent: y\n  examples: |\n    - why\n"
    )
    (tmp_path / "b.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: x\n  examples: |\n    - three\n'
        "- synonym: prep\n  examples: |\n    - prEP\n"
    )
    assert raw_examples(tmp_path) == {"x": ["one", "two", "three"], "y": ["why"]}
    holder = write_examples(tmp_path, "x", ["[Kisumu](location) clinic", "four"])
    assert holder == tmp_path / "a.yml"
    assert raw_examples(tmp_path) == {"x": ["[Kisumu](location) clinic", "four"], "y": ["why"]}
    data = load_training_data(tmp_path)
    assert data.synonyms == {"prep": "prep"}
    assert [e.entities[0].value for e in data.examples if e.entities] == ["Kisumu"]


def test_an_item_is_dumped_in_the_house_style_and_loads_back(tmp_path: Path) -> None:
    item = load_content(paths.CONTENT_DIR).topics["hiv_pep"]
    fields = {k: v for k, v in revisions.body_of(item, []).items() if k != "examples"}
    dumped = dump_item(fields)
    assert "answer:\n  en: |\n" in dumped  # block scalars, not quoted lines
    assert "reviewed_on: 20" in dumped  # a date, not a quoted string
    assert revisions.item_of("topic", yaml.safe_load(dumped)) == item


async def test_published_examples_retrain_the_embedded_parser(model: EmbeddedModel) -> None:
    parser = EmbeddedParser(model)
    trainer = ExampleTrainer(parser)
    files = raw_examples(paths.NLU_DATA_DIR)
    await trainer(files)  # the files' own examples: nothing to retrain
    assert parser._model is model
    novel = "zebra crossing umbrella toaster"
    edited = {**files, "hiv_prep": [*files["hiv_prep"], novel, *(f"{novel} {n}" for n in range(8))]}
    await trainer(edited)
    assert parser._model is not model
    assert (await parser.parse(novel)).intent.name == "hiv_prep"


def test_cli_import_then_export(tmp_path: Path, tree: tuple[Path, Path]) -> None:
    content, nlu = tree
    env = {
        "HEALTHBOT_SECRET": "cli-secret-0123456789",
        "DATABASE_URL": f"sqlite:///{tmp_path}/h.db",
    }
    folders = ("--content", str(content), "--nlu-data", str(nlu))
    first = healthbot("content", "import", *folders, cwd=tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "27 imported, 0 unchanged" in first.stdout
    again = healthbot("content", "import", *folders, cwd=tmp_path, **env)
    assert "0 imported, 27 unchanged" in again.stdout
    exported = healthbot("content", "export", *folders, cwd=tmp_path, **env)
    assert exported.returncode == 0, exported.stderr
    assert "content/ already matches the published content" in exported.stdout
