"""Content editing and review in the console: roles, CSRF, checks, review, publish, rollback.

The console and the bot's engines share one database: what a reviewer approves is what the next
answer says, in this process at once and in another one through the publish counter.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import AsyncIterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import paths
from bot.content import revisions
from bot.content.live import LiveContent
from bot.content.render import Renderer
from bot.content.store import ContentStore
from bot.content.sync import import_files
from bot.db.models import AuditDB, MessageDB
from bot.db.session import create_engine, session_factory
from bot.dialogue.counsellor import Desk
from bot.dialogue.engine import DialogueEngine
from bot.web.accounts import add_user
from bot.web.app import build_web_app
from nlu.embedded import EmbeddedParser
from tests.conftest import DESK_SETTINGS, SECRET, make_engine, run_in_new_loop
from tests.factories import button, text

PASSWORD = "correct horse battery"
ROLES = ("counsellor", "editor", "reviewer", "admin")
NEW_TEXT = "NEW: PrEP is free at every county hospital."
OLD_TEXT = "Taken daily, it works very well."
PAGES = (
    "/content",
    "/content/hiv_prep",
    "/content/hiv_prep/edit",
    "/content/hiv_prep/history",
    "/content/hiv_prep/history/1",
    "/review",
    "/review/hiv_prep/1",
)


async def _seed(database_url: str, content: ContentStore) -> None:
    """The files imported as revision 1 of every item (as the bot does on start), and accounts."""
    db = create_engine(database_url)
    sessions = session_factory(db)
    await import_files(sessions, paths.CONTENT_DIR, paths.NLU_DATA_DIR, store=content)
    async with sessions() as session, session.begin():
        for username in (*ROLES, "editor2"):
            role = username.rstrip("2")
            await add_user(session=session, username=username, password=PASSWORD, role=role)
    await db.dispose()


@pytest.fixture(scope="module")
def seeded_sqlite(
    tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path, content: ContentStore
) -> Path:
    path = tmp_path_factory.mktemp("content-db") / "seeded.db"
    shutil.copy(migrated_sqlite, path)
    run_in_new_loop(_seed(f"sqlite:///{path}", content))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, seeded_sqlite: Path) -> str:
    """This test's own copy of the seeded database (seeding once saves hashing passwords)."""
    path = tmp_path / "healthbot.db"
    shutil.copy(seeded_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
async def live(sessions: async_sessionmaker[AsyncSession], content: ContentStore) -> LiveContent:
    live = LiveContent(content, Renderer(content), sessions, interval=0.0)
    await live.refresh(force=True)
    return live


@pytest.fixture
def bot_engine(
    sessions: async_sessionmaker[AsyncSession],
    parser: EmbeddedParser,
    content: ContentStore,
    live: LiveContent,
) -> DialogueEngine:
    return make_engine(sessions, parser, content, live=True)


@pytest.fixture
async def console(
    sessions: async_sessionmaker[AsyncSession],
    content: ContentStore,
    live: LiveContent,
    bot_engine: DialogueEngine,
) -> AsyncIterator[httpx.AsyncClient]:
    desk = Desk(DESK_SETTINGS, Renderer(content))
    app = build_web_app(
        secret=SECRET, sessions=sessions, desk=desk, bot=None, live=live, dialogue=bot_engine
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


# helpers ----------------------------------------------------------------------------------------


async def csrf(client: httpx.AsyncClient, page: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(page)).text)
    assert found, page
    return found.group(1)


async def log_in(client: httpx.AsyncClient, username: str) -> None:
    client.cookies.clear()
    token = await csrf(client)
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303


class _Form(HTMLParser):
    """The named textareas and text/date inputs of a page, with their values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        name = named.get("name") or ""
        if tag == "textarea":
            self._textarea = name
            self.fields[name] = ""
        elif tag == "input" and named.get("type") in ("text", "date") and name:
            self.fields[name] = named.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data


def form_of(page: str) -> dict[str, str]:
    """The fields as a browser would submit them (a newline right after <textarea> is dropped)."""
    parser = _Form()
    parser.feed(page)
    parser.fields.pop("q", None)
    return {name: value.removeprefix("\n") for name, value in parser.fields.items()}


async def edit(client: httpx.AsyncClient, item: str, action: str, **changes: str) -> httpx.Response:
    """Open the edit form, change some fields (`answer_en="..."`), and press a button."""
    page = await client.get(f"/content/{item}/edit")
    assert page.status_code == 200, page.text[:300]
    fields = form_of(page.text)
    for name, value in changes.items():
        fields[name.replace("_en", ".en").replace("_sw", ".sw")] = value
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return await client.post(
        f"/content/{item}/edit", data={**fields, "csrf_token": token[1], "action": action}
    )


async def flash_of(client: httpx.AsyncClient, page: str) -> str:
    found = re.search(r'<p class="flash" role="status">([^<]*)</p>', (await client.get(page)).text)
    return unescape(found.group(1)) if found else ""


async def post(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await csrf(client, "/content"), **data})


async def new_answer(client: httpx.AsyncClient) -> str:
    """An editor's English answer for hiv_prep, submitted: returns the new text."""
    await log_in(client, "editor")
    page = form_of((await client.get("/content/hiv_prep/edit")).text)
    answer = page["answer.en"].replace(OLD_TEXT, OLD_TEXT + " " + NEW_TEXT)
    response = await edit(client, "hiv_prep", "submit", answer_en=answer)
    assert response.status_code == 303, response.text[:500]
    return answer


async def answer_text(engine: DialogueEngine, user: str = "a" * 64) -> str:
    [reply] = await engine.handle(text("what is prep", user=user))
    return reply.text


# roles and CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [None, *ROLES])
async def test_every_role_on_every_content_page(
    console: httpx.AsyncClient, role: str | None
) -> None:
    if role is not None:
        await log_in(console, role)
    for page in PAGES:
        response = await console.get(page)
        if role is None:
            assert response.status_code == 303, page
            assert response.headers["location"] == "/login"
        elif role == "counsellor" or (role == "editor" and page.startswith("/review")):
            assert response.status_code == 403, page
        else:
            assert response.status_code == 200, (page, response.text[:300])


ACTIONS = {
    "edit": ("/content/hiv_prep/edit", {"action": "preview"}, ("editor", "reviewer", "admin")),
    "approve": ("/review/hiv_prep/1/approve", {}, ("reviewer", "admin")),
    "return": ("/review/hiv_prep/1/return", {"comment": "x"}, ("reviewer", "admin")),
    "rollback": ("/content/hiv_prep/history/1/rollback", {}, ("reviewer", "admin")),
}


@pytest.mark.parametrize("role", [None, *ROLES])
async def test_every_role_on_every_content_action(
    console: httpx.AsyncClient, role: str | None
) -> None:
    if role is not None:
        await log_in(console, role)
    for action, (path, data, allowed) in ACTIONS.items():
        token = await csrf(console)
        response = await console.post(path, data={**data, "csrf_token": token})
        if role is None:
            assert response.status_code == 303, action
            assert response.headers["location"] == "/login"
        elif role not in allowed:
            assert response.status_code == 403, action
        elif action == "edit":
            assert response.status_code == 200  # a preview of an empty form: what is missing
            assert "The English text is missing" in response.text
        else:  # allowed, and refused only because revision 1 is already published
            assert response.status_code == 303, action
            assert "published" in await flash_of(console, "/content"), action


@pytest.mark.parametrize("action", ACTIONS)
async def test_every_content_form_needs_the_csrf_token(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], action: str
) -> None:
    path, data, _ = ACTIONS[action]
    await log_in(console, "admin")
    assert (await console.post(path, data=data)).status_code == 403
    assert (await console.post(path, data={**data, "csrf_token": "forged"})).status_code == 403
    async with sessions() as session:
        assert len(await revisions.history(session, "hiv_prep")) == 1


async def test_an_unknown_item_is_not_found(console: httpx.AsyncClient) -> None:
    await log_in(console, "admin")
    for page in (
        "/content/no_such_item",
        "/content/no_such_item/edit",
        "/content/..%2F..%2Fpyproject/edit",
        "/content/hiv_prep/history/99",
        "/review/hiv_prep/99",
    ):
        assert (await console.get(page)).status_code == 404, page


# the list ---------------------------------------------------------------------------------------


async def test_the_list_searches_both_languages_and_filters_by_area(
    console: httpx.AsyncClient,
) -> None:
    await log_in(console, "editor")
    everything = (await console.get("/content")).text
    assert "27 items" in everything and "r1" in everything
    kiswahili = (await console.get("/content", params={"q": "KENGELE"})).text
    assert 'href="/content/hiv_prep"' in kiswahili and 'href="/content/hiv_treatment"' in kiswahili
    assert 'href="/content/condoms"' not in kiswahili
    question = (await console.get("/content", params={"q": "is it for me"})).text
    assert 'href="/content/hiv_prep"' in question
    replies = (await console.get("/content", params={"area": "conversation"})).text
    assert 'href="/content/greet"' in replies and 'href="/content/hiv_prep"' not in replies
    nothing = (await console.get("/content", params={"q": "<xyzzy>"})).text
    assert "Nothing matches “&lt;xyzzy&gt;”" in nothing


async def test_the_list_shows_pending_revisions(console: httpx.AsyncClient) -> None:
    await new_answer(console)
    listing = (await console.get("/content", params={"q": "prep"})).text
    row = listing[listing.index('href="/content/hiv_prep"') :]
    assert 'class="badge submitted"' in row[: row.index("</tr>")]


# the edit form ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("answer.sw", "", "The Kiswahili text is missing: please write it."),
        ("answer.sw", "   \n ", "The Kiswahili text is missing: please write it."),
        ("follow_ups", "hiv_testing, no_such_topic", "“no_such_topic” is not a topic the bot has"),
        ("follow_ups", "hiv_testing, hiv_pep, condoms, sti", "Choose at most 3 follow-up topics."),
        ("services", "prep, magic", "unknown service ids ['magic']"),
        ("answer.en", "Call 0722000000 for help.", "A phone number is typed here."),
        ("more.sw", "Piga {{ helplines.nope.number }}.", "“nope”, which does not exist"),
        ("answer.en", "Broken {% for %} template", "The text has a template mistake"),
        ("sources", "- title: [unclosed", "The sources could not be read (line"),
        ("sources", "- title: A guide\n  year: 1800", "Source 1: the year must be"),
        ("next_review", "next year", "Choose a date"),
        ("examples", "what is prep\nprep?", "Add at least 5 example questions"),
        ("examples", "hi\nprep 1\nprep 2\nprep 3\nprep 4", "“hi” is already an example of greet"),
        ("question.en", "x" * 41, "Keep the question to 40 characters or fewer"),
    ],
)
async def test_problems_are_shown_beside_their_field_and_the_text_is_kept(
    console: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    field: str,
    value: str,
    message: str,
) -> None:
    await log_in(console, "editor")
    edited = "My own careful words, kept. " + OLD_TEXT
    response = await edit(console, "hiv_prep", "save", answer_en=edited, **{field: value})
    assert response.status_code == 400
    errors = re.search(
        rf'<div class="field-errors" id="error-{re.escape(field)}">(.*?)</div>', response.text, re.S
    )
    assert errors and message in unescape(errors.group(1)), response.text[:3000]
    fields = form_of(response.text)
    assert fields[field].strip() == value.strip()
    if field != "answer.en":
        assert fields["answer.en"].strip() == edited
    assert "Nothing is lost: your text is still in the form." in response.text
    async with sessions() as session:
        assert len(await revisions.history(session, "hiv_prep")) == 1, "nothing was saved"


async def test_a_script_in_an_answer_is_shown_as_text(console: httpx.AsyncClient) -> None:
    await log_in(console, "editor")
    script = "<script>alert(1)</script> & <b onclick=x>bold</b>"
    response = await edit(console, "hiv_prep", "preview", answer_en=script)
    assert response.status_code == 200
    assert "<script>alert" not in response.text and "<b onclick" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b onclick=x&gt;bold" in response.text
    assert form_of(response.text)["answer.en"].strip() == script


async def test_template_tricks_are_refused_and_never_rendered_by_the_console(
    console: httpx.AsyncClient,
) -> None:
    await log_in(console, "editor")
    response = await edit(console, "hiv_prep", "preview", answer_en="See {{ config }} now")
    assert "The text asks for “config”, which it cannot use." in unescape(response.text)
    assert "See {{ config }} now" in form_of(response.text)["answer.en"]
    assert SECRET not in response.text and "Config" not in response.text
    sneaky = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    response = await edit(console, "hiv_prep", "preview", answer_en=sneaky)
    assert "The text has a template mistake" in unescape(response.text)
    assert "subprocess" not in response.text
    response = await edit(console, "hiv_prep", "preview", answer_en="Seven sevens: {{ 7*7 }}.")
    assert response.status_code == 200 and "Seven sevens: 49." in response.text


async def test_a_preview_shows_what_the_bot_sends_with_its_length(
    console: httpx.AsyncClient,
) -> None:
    await log_in(console, "editor")
    response = await edit(
        console, "hiv_prep", "preview", answer_en="Ring {{ helplines.one2one.number }} today."
    )
    assert response.status_code == 200
    assert "<b>PrEP: a daily pill to prevent HIV</b>" in response.text  # the Telegram bubble
    assert "Ring 1190 today." in response.text
    assert "16 of 600 characters" in response.text
    assert "Sources: World Health Organization 2022; NASCOP 2022; NASCOP 2017" in response.text


async def test_a_saved_draft_is_where_the_form_starts_next_time(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await log_in(console, "editor")
    response = await edit(console, "hiv_prep", "save", answer_en="Half-way draft.")
    assert response.status_code == 303 and response.headers["location"] == "/content/hiv_prep/edit"
    page = (await console.get("/content/hiv_prep/edit")).text
    assert "Draft saved (revision 2)" in page and "your draft revision r2" in page
    assert form_of(page)["answer.en"].strip() == "Half-way draft."
    await log_in(console, "editor2")
    other = form_of((await console.get("/content/hiv_prep/edit")).text)
    assert OLD_TEXT in other["answer.en"], "another editor starts from the published text"
    async with sessions() as session:
        draft = await revisions.revision(session, "hiv_prep", 2)
    assert draft is not None and draft.status == "draft" and draft.based_on == 1


async def test_nothing_changed_is_not_sent_for_review(console: httpx.AsyncClient) -> None:
    await log_in(console, "editor")
    response = await edit(console, "hiv_prep", "submit")
    assert response.status_code == 400
    assert "Nothing is different from the published version yet." in response.text


async def test_a_conversation_reply_is_edited_too(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await log_in(console, "editor")
    page = (await console.get("/content/greet/edit")).text
    assert "follow_ups" not in form_of(page) and "answer.sw" in form_of(page)
    response = await edit(console, "greet", "submit", answer_en="Hello there, friend!")
    assert response.status_code == 303
    await log_in(console, "reviewer")
    review = (await console.get("/review/greet/2")).text
    assert "Hello there, friend!" in review and "<mark>" in review


# review and publish -----------------------------------------------------------------------------


async def test_an_approved_change_is_what_the_bot_says_next(
    console: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    parser: EmbeddedParser,
    content: ContentStore,
    bot_engine: DialogueEngine,
) -> None:
    other_process = make_engine(sessions, parser, content, live=True)
    assert NEW_TEXT not in await answer_text(other_process, "c" * 64)

    await new_answer(console)
    assert (await console.get("/review")).status_code == 403
    await log_in(console, "reviewer")
    queue = (await console.get("/review")).text
    assert 'href="/review/hiv_prep/2"' in queue and "Answer (English)" in queue
    review = (await console.get("/review/hiv_prep/2")).text
    assert NEW_TEXT in review and "<mark>" in review and '<div class="added">' in review
    assert "Approve and publish" in review
    assert NEW_TEXT not in await answer_text(bot_engine), "not published before approval"

    approved = await post(console, "/review/hiv_prep/2/approve")
    assert approved.status_code == 303 and approved.headers["location"] == "/review"
    assert "Published hiv_prep revision 2" in await flash_of(console, "/review")

    assert NEW_TEXT in await answer_text(bot_engine)
    [by_button] = await bot_engine.handle(button("ask:hiv_prep", user="b" * 64))
    assert NEW_TEXT in by_button.text
    async with sessions() as session:
        sent = (
            await session.scalars(
                select(MessageDB)
                .where(MessageDB.direction == "out", MessageDB.content_id == "hiv_prep")
                .order_by(MessageDB.id.desc())
            )
        ).first()
    assert sent is not None and sent.content_revision == 2
    assert NEW_TEXT in await answer_text(other_process, "c" * 64), "reloaded via the counter"


async def test_a_returned_revision_shows_the_comment_to_its_editor(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answer = await new_answer(console)
    await log_in(console, "reviewer")
    refused = await post(console, "/review/hiv_prep/2/return", comment="   ")
    assert refused.status_code == 303
    assert "a comment is required" in await flash_of(console, "/review")
    comment = "Please say <where> PrEP is free, and add it in Kiswahili too."
    returned = await post(console, "/review/hiv_prep/2/return", comment=comment)
    assert returned.status_code == 303
    await log_in(console, "editor")
    page = (await console.get("/content/hiv_prep/edit")).text
    assert "reviewer sent this back with a comment:" in page
    assert "Please say &lt;where&gt; PrEP is free" in page
    assert form_of(page)["answer.en"].strip() == answer.strip()
    resent = await edit(
        console, "hiv_prep", "submit", answer_en=answer + "\nAt any county hospital."
    )
    assert resent.status_code == 303
    async with sessions() as session:
        row = await revisions.revision(session, "hiv_prep", 2)
    assert row is not None and row.status == "submitted"


async def test_a_reviewer_cannot_approve_their_own_revision(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await log_in(console, "reviewer")
    response = await edit(console, "hiv_prep", "submit", answer_en=NEW_TEXT)
    assert response.status_code == 303
    page = (await console.get("/review/hiv_prep/2")).text
    assert "Someone else must review your own changes." in page
    assert "Approve and publish" not in page
    refused = await post(console, "/review/hiv_prep/2/approve")
    assert refused.headers["location"] == "/review/hiv_prep/2"
    assert "Someone else must review your own changes." in await flash_of(console, "/review")
    async with sessions() as session:
        row = await revisions.revision(session, "hiv_prep", 2)
    assert row is not None and row.status == "submitted"


async def test_rollback_brings_the_previous_answer_back(
    console: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    bot_engine: DialogueEngine,
) -> None:
    await new_answer(console)
    await log_in(console, "reviewer")
    await post(console, "/review/hiv_prep/2/approve")
    assert NEW_TEXT in await answer_text(bot_engine)

    history = (await console.get("/content/hiv_prep/history")).text
    assert "Roll back to r1" in history and "Roll back to r2" not in history
    assert '<div class="added">' in history  # r2's changes from r1
    await log_in(console, "editor")
    assert "Roll back" not in (await console.get("/content/hiv_prep/history")).text
    assert (await post(console, "/content/hiv_prep/history/1/rollback")).status_code == 403

    await log_in(console, "reviewer")
    rolled = await post(console, "/content/hiv_prep/history/1/rollback")
    assert rolled.headers["location"] == "/content/hiv_prep/history"
    assert "Revision 1 is published again, as revision 3." in await flash_of(
        console, "/content/hiv_prep/history"
    )
    reply = await answer_text(bot_engine)
    assert NEW_TEXT not in reply and OLD_TEXT in reply
    async with sessions() as session:
        current = (await revisions.published(session))["hiv_prep"]
    assert current.number == 3 and current.comment == "rollback to revision 1"


async def test_every_change_is_in_the_audit_log(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await log_in(console, "editor")
    await edit(console, "hiv_prep", "save", answer_en=NEW_TEXT)
    await edit(console, "hiv_prep", "submit", answer_en=NEW_TEXT)
    await edit(console, "condoms", "submit", answer_en="Condoms, explained again.")
    await log_in(console, "reviewer")
    await post(console, "/review/hiv_prep/2/approve")
    await post(console, "/review/condoms/2/return", comment="Too short.")
    await post(console, "/content/hiv_prep/history/1/rollback")
    async with sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditDB).where(AuditDB.action.like("content.%")).order_by(AuditDB.id)
            )
        )
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("editor", "content.save", "content hiv_prep r2"),
        ("editor", "content.submit", "content hiv_prep r2"),
        ("editor", "content.submit", "content condoms r2"),
        ("reviewer", "content.approve", "content hiv_prep r2"),
        ("reviewer", "content.return", "content condoms r2"),
        ("reviewer", "content.rollback", "content hiv_prep r3"),
    ]
    assert rows[1].detail == "changed: Answer (English)"
    assert rows[4].detail == "Too short."


async def test_edited_training_examples_are_published_with_the_answer(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await log_in(console, "editor")
    lines = form_of((await console.get("/content/hiv_prep/edit")).text)["examples"].splitlines()
    assert "what is prep" in lines
    edited = [line for line in lines if line != "what is prep"] + [
        "is there a daily pill that stops hiv"
    ]
    response = await edit(console, "hiv_prep", "submit", examples="\r\n".join(edited))
    assert response.status_code == 303
    await log_in(console, "reviewer")
    review = (await console.get("/review/hiv_prep/2")).text
    assert "Training examples" in review
    assert '<div class="added"><span class="sign">+</span>is there a daily pill' in review
    assert '<div class="removed"><span class="sign">−</span>what is prep</div>' in review
    await post(console, "/review/hiv_prep/2/approve")
    async with sessions() as session:
        published = (await revisions.published(session))["hiv_prep"]
    examples = revisions.examples_of(published.body)
    assert "is there a daily pill that stops hiv" in examples and "what is prep" not in examples
    assert len(examples) == len(lines)


async def test_content_pages_allow_no_script_but_the_rollback_confirmation(
    console: httpx.AsyncClient,
) -> None:
    await new_answer(console)
    await log_in(console, "reviewer")
    await post(console, "/review/hiv_prep/2/approve")
    history = await console.get("/content/hiv_prep/history")
    policy = history.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "form-action 'self'" in policy
    [handler] = set(re.findall(r'onsubmit="([^"]+)"', history.text))
    digest = base64.b64encode(hashlib.sha256(unescape(handler).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert "<script" not in history.text
    for page in ("/content", "/content/hiv_prep/edit", "/review"):
        assert (await console.get(page)).headers["content-security-policy"] == policy


async def test_the_pages_follow_a_publish_made_by_another_process(
    console: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        row = await revisions.revision(session, "condoms", 1)
        assert row is not None
        body = {**row.body, "answer": {**row.body["answer"], "en": "Condoms, said elsewhere."}}
        await revisions.import_items(session, {"condoms": ("topic", body)}, author="content files")
    await log_in(console, "editor")
    page = (await console.get("/content/condoms")).text
    assert "Published revision <strong>r2</strong>" in page and "Condoms, said elsewhere." in page


async def test_without_live_content_the_pages_say_so(
    sessions: async_sessionmaker[AsyncSession], content: ContentStore, console: httpx.AsyncClient
) -> None:
    app = build_web_app(
        secret=SECRET, sessions=sessions, desk=Desk(DESK_SETTINGS, Renderer(content)), bot=None
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await log_in(client, "editor")
        response = await client.get("/content")
    assert response.status_code == 503
    assert "Content editing is not available" in response.text


async def test_a_draft_opens_for_its_author_alone_as_the_save_message_promises(
    console: httpx.AsyncClient,
) -> None:
    secret = "DRAFT-ONLY: not yet for anyone else."
    await log_in(console, "editor2")
    page = form_of((await console.get("/content/hiv_prep/edit")).text)
    saved = await edit(console, "hiv_prep", "save", answer_en=page["answer.en"] + " " + secret)
    assert saved.status_code == 303
    assert "Only you see it" in await flash_of(console, "/content/hiv_prep/edit")
    draft = "/content/hiv_prep/history/2"
    assert secret in (await console.get(draft)).text, "its author opens it"
    assert secret in (await console.get("/content/hiv_prep/history")).text

    for other in ("editor", "reviewer", "admin"):
        await log_in(console, other)
        for path in (draft, "/review/hiv_prep/2"):
            opened = await console.get(path)
            assert opened.status_code in (403, 404), (other, path)
            assert secret not in opened.text
        for path in ("/content/hiv_prep/history", "/content/hiv_prep"):
            listed = await console.get(path)
            assert listed.status_code == 200
            assert secret not in listed.text and "r2" not in listed.text, (other, path)
        refused = await post(console, f"{draft}/rollback")
        assert refused.status_code in (403, 404), (other, "rollback")
