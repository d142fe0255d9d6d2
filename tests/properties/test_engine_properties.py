"""The dialogue engine under hostile input (issue 9), checked with hypothesis.

For any text, any callback data (random bytes, or forged from the real payload actions with
random arguments) and any sequence of up to 8 mixed inbounds (text, known and unknown commands,
a button the engine just offered or a forged one, media, a location with any float, NaN and
infinities included) from one young person, starting in any conversation state, on Telegram or
the web (HTML) or in the terminal (plain):

1. `handle` never raises, always answers, never falls back to its "something went wrong" reply
   and swallows no exception (nothing is logged at ERROR);
2. every reply's text is non-empty and at most 4,096 UTF-16 code units (Telegram's limit);
3. an HTML reply is valid in Telegram's HTML parse mode: only its tags, each closed and properly
   nested, every `&` an entity, no bare `<` or `>`; a plain reply holds no tags and no entities;
4. every button has a non-empty label and 1-64 bytes of callback data the engine understands;
5. nothing a young person types comes back to them (so it is never rendered as a template or as
   markup); what is relayed to their counsellor is escaped and not rendered as a template.

Each example is a new young person (a unique id) in the test's one database.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import math
import re
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cases.repository import add_counsellor, open_case_of, set_duty
from bot.content.render import Format, Renderer
from bot.content.store import ContentStore
from bot.db.models import UserDB
from bot.db.session import create_engine, session_factory
from bot.dialogue import payloads
from bot.dialogue.addresses import telegram_address, web_address
from bot.dialogue.counsellor import STATE_WITH
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.messages import Button, Inbound, InboundKind, Reply
from bot.dialogue.referral import CHOICES
from bot.dialogue.split import TELEGRAM_LIMIT, utf16_length
from nlu.embedded import EmbeddedParser
from tests.conftest import make_engine

T = TypeVar("T")

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples every run: a red build is reproducible
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # `chat` is shared; each example is a new user
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
EACH_CASE = settings(PROPERTY, max_examples=20)  # for properties run once per parameter

# --- Telegram's HTML parse mode, strictly --------------------------------------------------

ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler"}
    | {"a", "code", "pre", "span", "blockquote"}  # these with their attributes, or none
)
MARKUP = re.compile(
    r"<(?P<close>/?)(?P<name>[a-z][a-z-]*)(?P<attributes>(?:\s+[^\s=<>]+(?:=\"[^\"<>]*\")?)*)\s*>"
)
ATTRIBUTE = re.compile(r"\s+(?P<name>[^\s=<>]+)(?:=\"(?P<value>[^\"<>]*)\")?")
ENTITY = re.compile(r"&(?:#(?P<decimal>[0-9]{1,7})|#x(?P<hex>[0-9a-fA-F]{1,6})|lt|gt|amp|quot);")
SPECIAL = re.compile(r"[<>&]")
LINK = re.compile(r"(?:https?|tg|mailto):\S+")
PLAIN_MARKUP = re.compile(
    r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?>|&(?:#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);"
)


def entity_problem(text: str, at: int) -> str | None:
    """Why the `&` at `at` is not an entity Telegram accepts (None if it is one)."""
    match = ENTITY.match(text, at)
    if match is None:
        return f"bare & at {at}"
    number = match["decimal"] or match["hex"]
    if number is not None:
        code = int(number, 10 if match["decimal"] else 16)
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return f"numeric entity out of range at {at}"
    return None


def attribute_problem(tag: str, attributes: str) -> str | None:
    """Why a tag's attributes are not the ones Telegram allows on it (None if they are)."""
    found = {m["name"]: m["value"] for m in ATTRIBUTE.finditer(attributes)}
    for value in found.values():
        if value is not None and (problem := text_problem(value)) is not None:
            return f"in <{tag}> attribute: {problem}"
    if tag == "a":
        href = html.unescape(found.get("href") or "")
        return None if set(found) == {"href"} and LINK.fullmatch(href) else "bad <a> attributes"
    if tag == "span":
        return None if found == {"class": "tg-spoiler"} else "<span> without class=tg-spoiler"
    if tag == "code" and found:
        language = found.get("class") or ""
        return None if set(found) == {"class"} and language.startswith("language-") else "<code>"
    if tag == "blockquote" and found:
        return None if found == {"expandable": None} else "bad <blockquote> attributes"
    return f"<{tag}> takes no attributes" if found else None


def nesting_problem(tag: str, open_tags: Sequence[str]) -> str | None:
    """Telegram's nesting rules: nothing inside code or pre (but pre>code), no link in a link."""
    inside = open_tags[-1] if open_tags else ""
    if inside in ("code", "pre") and (inside, tag) != ("pre", "code"):
        return f"<{tag}> inside <{inside}>"
    if tag in ("a", "blockquote") and tag in open_tags:
        return f"<{tag}> inside <{tag}>"
    return None


def text_problem(text: str) -> str | None:
    """Why `text` (with no tags allowed) is not valid: a bare `<`, `>` or `&`."""
    for special in SPECIAL.finditer(text):
        if special[0] != "&":
            return f"bare {special[0]} at {special.start()}"
        if (problem := entity_problem(text, special.start())) is not None:
            return problem
    return None


def telegram_html_problem(text: str) -> str | None:
    """Why Telegram would refuse `text` in HTML parse mode; None if it would accept it."""
    open_tags: list[str] = []
    position = 0
    while (special := SPECIAL.search(text, position)) is not None:
        at = special.start()
        if special[0] == "&":
            if (problem := entity_problem(text, at)) is not None:
                return problem
            position = at + 1
            continue
        tag = MARKUP.match(text, at)
        if tag is None:
            return f"bare {special[0]} at {at}: {text[at : at + 20]!r}"
        name = tag["name"]
        if name not in ALLOWED_TAGS:
            return f"<{name}> is not a Telegram tag"
        if tag["close"]:
            if tag["attributes"].strip() or not open_tags or open_tags.pop() != name:
                return f"</{name}> closes nothing open at {at}"
        else:
            problem = attribute_problem(name, tag["attributes"]) or nesting_problem(name, open_tags)
            if problem is not None:
                return problem
            open_tags.append(name)
        position = tag.end()
    if open_tags:
        return f"<{open_tags[-1]}> never closed"
    if not visible_text(text).strip():
        return "no visible text"
    return None


def visible_text(text: str) -> str:
    """What the reader sees of an HTML reply."""
    return html.unescape(MARKUP.sub("", text))


# --- one event loop, one database, a new young person per example ----------------------------

_NUMBERS = itertools.count(1)
ON_DUTY = 700_000_001  # one counsellor on duty from the start: crises alert someone
CANARY = '{{ "qzvw" ~ "kjxy" }} {{ 7*7 }} <script>qzvw</script>'
KNOWN_COMMANDS = ("start", "menu", "language", "help", "privacy", "mydata", "delete", "exit")
STAFF_COMMANDS = ("duty", "queue", "next", "take", "note", "transfer", "close")


@dataclass(frozen=True)
class Young:
    """A young person on one channel, new to the bot."""

    user_id: str
    channel: str
    address: str

    @property
    def format(self) -> Format:
        return "plain" if self.channel == "cli" else "html"

    def sends(self, kind: InboundKind, **fields: Any) -> Inbound:
        return Inbound(self.user_id, self.channel, kind, address=self.address, **fields)


def new_young(channel: str) -> Young:
    """A young person nobody has seen yet, with the address their channel would give."""
    number = next(_NUMBERS)
    addresses = {"telegram": telegram_address(10**9 + number), "web": web_address(f"{number:032x}")}
    return Young(f"{number:064x}", channel, addresses.get(channel, ""))


class ErrorLog(logging.Handler):
    """Keeps records at ERROR and above: exceptions the engine caught and logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(repr=False)  # a failing example prints the fixture: keep it short
class Chat:
    """The engine on its own event loop, driven from synchronous hypothesis tests."""

    loop: asyncio.AbstractEventLoop
    engine: DialogueEngine
    sessions: async_sessionmaker[AsyncSession]
    error_replies: frozenset[str]
    stale_lines: frozenset[str]
    errors: ErrorLog

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def send(self, inbound: Inbound) -> list[Reply]:
        """One turn, checked: it answers and swallows no exception."""
        self.errors.records.clear()
        replies = self.run(self.engine.handle(inbound))
        assert not self.errors.records, [r.getMessage() for r in self.errors.records]
        assert replies, f"no reply to {inbound!r:.300}"
        assert not self.error_replies & {r.text for r in replies}, "fell back to the error reply"
        return replies

    def counsellor_takes(self, young: Young) -> str:
        """A new counsellor takes the young person's open case (/take N); their address."""
        telegram_id = 800_000_000 + next(_NUMBERS)
        self.run(register_counsellor(self.sessions, telegram_id, on_duty=False))
        case_id = self.run(open_case_id(self.sessions, young.user_id))
        take = Inbound(
            f"staff-{telegram_id}",
            "telegram",
            InboundKind.COMMAND,
            command="take",
            text=str(case_id),
            address=telegram_address(telegram_id),
        )
        for reply in self.send(take):
            check_reply(reply, "html")  # to the counsellor, or to the young person on Telegram
        assert self.run(state_of(self.sessions, young.user_id)) == STATE_WITH
        return take.address

    def is_stale(self, reply: Reply) -> bool:
        """Whether `reply` is the "that button has expired" answer."""
        return any(line in visible_text(reply.text) for line in self.stale_lines)


async def register_counsellor(
    sessions: async_sessionmaker[AsyncSession], telegram_id: int, *, on_duty: bool
) -> None:
    async with sessions() as session, session.begin():
        counsellor = await add_counsellor(session=session, telegram_id=telegram_id, name="Asha")
        await set_duty(session=session, counsellor_id=counsellor.id, on_duty=on_duty)


async def open_case_id(sessions: async_sessionmaker[AsyncSession], user_id: str) -> int:
    async with sessions() as session:
        case = await open_case_of(session=session, user_id=user_id)
        assert case is not None
        return case.id


async def state_of(sessions: async_sessionmaker[AsyncSession], user_id: str) -> str | None:
    async with sessions() as session:
        user = await session.get(UserDB, user_id)
        return user.state if user is not None else None


def stale_lines(renderer: Renderer) -> frozenset[str]:
    """The line that says a button has expired, in every language."""
    return frozenset(renderer.ui("stale_button", language) for language in ("en", "sw"))


def error_replies(renderer: Renderer) -> frozenset[str]:
    """The engine's "something went wrong" texts, in every format and language."""
    texts = {
        renderer.message(fmt, renderer.ui("error", language))
        for fmt in ("html", "plain")
        for language in ("en", "sw")
    }
    return frozenset({*texts, "Sorry, that did not work. Please try again."})


@pytest.fixture
def chat(sqlite_url: str, parser: EmbeddedParser, content: ContentStore) -> Iterator[Chat]:
    loop = asyncio.new_event_loop()
    database = create_engine(sqlite_url)
    sessions = session_factory(database)
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        engine = make_engine(sessions, parser, content)
        renderer = Renderer(content)
        harness = Chat(
            loop, engine, sessions, error_replies(renderer), stale_lines(renderer), errors
        )
        harness.run(register_counsellor(sessions, ON_DUTY, on_duty=True))
        yield harness
    finally:
        logging.getLogger().removeHandler(errors)
        loop.run_until_complete(database.dispose())
        loop.close()


# --- what every reply must be --------------------------------------------------------------


def buttons_of(reply: Reply) -> list[Button]:
    return [button for row in reply.buttons for button in row]


def check_button(button: Button) -> None:
    assert button.label.strip(), f"a button without a label: {button!r}"
    assert 1 <= len(button.payload.encode()) <= payloads.MAX_PAYLOAD_BYTES, button
    assert payloads.decode(button.payload) is not None, f"the engine offers a dud: {button!r}"


def check_reply(reply: Reply, fmt: Format) -> None:
    """Non-empty, within Telegram's limit, valid markup for its format, sound buttons."""
    assert reply.text.strip(), f"an empty reply: {reply!r}"
    assert utf16_length(reply.text) <= TELEGRAM_LIMIT, f"{utf16_length(reply.text)} UTF-16 units"
    if fmt == "html":
        problem = telegram_html_problem(reply.text)
        assert problem is None, f"{problem} in {reply.text!r}"
    else:
        assert PLAIN_MARKUP.search(reply.text) is None, f"markup in plain text: {reply.text!r}"
    for button in buttons_of(reply):
        check_button(button)
    assert not reply.request_location or reply.request_location.strip(), "an empty keyboard label"


def check_replies(young: Young, replies: Sequence[Reply]) -> None:
    """Every reply, in the format of the chat it goes to (other chats are Telegram's, HTML)."""
    for reply in replies:
        check_reply(reply, young.format if reply.to in ("", young.address) else "html")


def check_not_echoed(young: Young, replies: Sequence[Reply]) -> None:
    """The canary the young person typed never comes back to them, and is never evaluated."""
    for reply in replies:
        text = reply.text.lower()
        assert "qzvwkjxy" not in text, f"user text rendered as a template: {reply.text!r}"
        assert "<script" not in text, f"user markup unescaped: {reply.text!r}"
        if reply.to in ("", young.address):
            assert "qzvw" not in text, f"user text echoed: {reply.text!r}"


def offered(young: Young, replies: Sequence[Reply]) -> list[str]:
    """The payloads of the buttons the young person can press now."""
    return [
        button.payload
        for reply in replies
        if reply.to in ("", young.address)
        for button in buttons_of(reply)
    ]


# --- strategies -----------------------------------------------------------------------------

SNIPPETS = (
    "<b>&amp;*_[]()",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{# #}",
    "'; DROP TABLE users; --",
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u200d",  # zero-width joiner
    "\ufeff",
    "👩‍👩‍👧‍👦",
    "🏳️‍🌈",
    "\x00",
    "\x1b[2J",
    "&",
    "<",
    ">",
    "&#0;",
    "&bogus;",
    "</b>",
    '<a href="javascript:alert(1)">x</a>',
    "*bold* _italic_ [link](http://example.com) `code`",
    "exit",
    "toka",
    "/start",
    "where can I get tested in Homa Bay",
    "PrEP",
    "Kibera",
    "nataka kujiua",
    "I want to kill myself",
    "my friend was raped",
    " ",
    "\n\n",
    "\t",
)
PHRASES = (  # what young people write: reaches the parser's intents and the gazetteer
    "hi",
    "habari",
    "thanks",
    "asante sana",
    "bye",
    "are you a bot?",
    "how do I get PrEP",
    "nataka kujua kuhusu condoms",
    "where can I get tested in Homa Bay?",
    "where can I get PEP near Kibera",
    "Kisumu",
    "Kisimu",
    "Kisumu mjini",
    "niko Kibera",
    "Westlands",
    "Makutano",
    "Rongai",
    "Kisumuuu",
    "Wakanda",
    "I want to talk to someone",
    "my friend is being beaten at home",
    "mimi ni mjamzito",
    "what is the weather",
)
RUNS = ("a", "é", "😀", "&", "<b>", "a ", "\n", "{{ 7*7 }}", "\u200d", "&amp;")
ARGUMENTS = (
    *CHOICES,
    "hiv_prep",
    "hiv_testing",
    "suicidal_thoughts",
    "talk_to_counsellor",
    "find_service",
    "greet",
    "out_of_scope",
    "hiv",
    "counsellor",
    "en",
    "sw",
    "yes",
    "no",
    "0",
    "1",
    "5",
    "-1",
    "007",
    "99999999999999999999",
    "-1.286,36.817",
    "-1.286,36.817,5",
    "-1.286,36.817,501",
    "nan,nan",
    "inf,-inf",
    "91,0",
    "1e308,1e308",
    "",
)


def repeat(unit: str, length: int) -> str:
    return (unit * length)[:length]


def texts() -> st.SearchStrategy[str]:
    """Any text: what young people write, random Unicode, hostile snippets mixed in, and runs
    of up to 5,000 characters."""
    pieces = st.one_of(st.text(max_size=30), st.sampled_from(SNIPPETS), st.sampled_from(PHRASES))
    mixed = st.lists(pieces, min_size=1, max_size=8).map("".join)
    long_runs = st.builds(repeat, st.sampled_from(RUNS), st.integers(1000, 5000))
    return st.one_of(st.sampled_from(PHRASES), mixed, mixed, st.text(max_size=5000), long_runs)


def coordinates() -> st.SearchStrategy[str]:
    return st.builds("{},{}".format, st.floats(), st.floats()) | st.builds(
        "{:.3f},{:.3f},{}".format, st.floats(-5, 5), st.floats(33, 42), st.integers(-10, 600)
    )


def forged_payloads() -> st.SearchStrategy[str]:
    """`fb:<x>:<y>`, `rate:…`, `near:…`, `svc:…`, `ask:<intent>`, `erase:…` and worse."""
    actions = st.sampled_from((*sorted(payloads.ACTIONS), "", "ASK", "menu ", "x"))
    part = st.one_of(
        st.text(max_size=20), st.sampled_from(ARGUMENTS), st.integers().map(str), coordinates()
    )
    return st.builds(lambda a, parts: ":".join((a, *parts)), actions, st.lists(part, max_size=4))


def callback_data() -> st.SearchStrategy[str]:
    """What a forged or stale button can carry: text, bytes decoded leniently, forgeries."""
    undecodable = st.binary(max_size=100).map(lambda raw: raw.decode("utf-8", errors="replace"))
    return st.one_of(st.text(max_size=100), undecodable, forged_payloads(), forged_payloads())


def commands() -> st.SearchStrategy[str]:
    known = st.sampled_from(KNOWN_COMMANDS)
    return st.one_of(known, known, st.sampled_from(STAFF_COMMANDS), st.text(max_size=20))


def degrees() -> st.SearchStrategy[float]:
    """Any float, NaN, infinities and far out of range included, or a point in Kenya."""
    return st.one_of(st.floats(), st.floats(-4.7, 5.0), st.floats(33.9, 41.9))


# A step is a tuple, so a failing example prints as something readable.
Step = tuple[Any, ...]


def steps() -> st.SearchStrategy[Step]:
    pick = st.tuples(st.just("pick"), st.integers(0, 99))  # a button just offered: the usual way
    return st.one_of(
        st.tuples(st.just("text"), texts()),
        st.tuples(st.just("command"), commands(), st.text(max_size=20)),
        pick,
        pick,
        pick,
        st.tuples(st.just("button"), callback_data()),
        st.tuples(st.just("media")),
        st.tuples(st.just("location"), degrees(), degrees()),
    )


SETUPS: dict[str, tuple[Step, ...]] = {
    "new": (),
    "choosing a language": (("command", "start", ""),),
    "menu in Kiswahili": (("command", "start", ""), ("button", "lang:sw")),
    "topic": (("button", "topic:hiv"),),
    "answered": (("button", "ask:hiv_prep"),),
    "found it helpful": (("button", "ask:hiv_prep"), ("pick", 0)),
    "told more": (("button", "ask:hiv_prep"), ("pick", 2)),
    "which service": (("button", "ask:find_service"),),
    "where are you": (("button", "svc:hiv_testing"),),
    "which of these places": (("button", "svc:hiv_testing"), ("text", "Makutano")),
    "results": (("button", "svc:pep:-1.286,36.817"),),
    "confirm delete": (("command", "delete", ""),),
    "erased": (("command", "delete", ""), ("pick", 0)),
    "crisis": (("text", "I want to kill myself"),),
    "waiting for a counsellor": (("button", "ask:talk_to_counsellor"),),
    "with a counsellor": (("button", "ask:talk_to_counsellor"), ("counsellor takes",)),
}
CHANNELS = ("telegram", "web", "cli")


def inbound_for(step: Step, young: Young, choices: Sequence[str]) -> Inbound:
    """The message a step sends; `pick` presses one of `choices` (the menu if there are none)."""
    kind = step[0]
    if kind == "text":
        return young.sends(InboundKind.TEXT, text=step[1])
    if kind == "command":
        return young.sends(InboundKind.COMMAND, command=step[1], text=step[2])
    if kind == "pick":
        payload = choices[step[1] % len(choices)] if choices else "menu"
        return young.sends(InboundKind.BUTTON, payload=payload)
    if kind == "button":
        return young.sends(InboundKind.BUTTON, payload=step[1])
    if kind == "location":
        return young.sends(InboundKind.LOCATION, latitude=step[1], longitude=step[2])
    return young.sends(InboundKind.MEDIA)


def play(chat: Chat, young: Young, script: Sequence[Step]) -> list[Reply]:
    """Send each step, checking every turn; return the last turn's replies.

    A button the engine has just offered is never answered as expired.
    """
    replies: list[Reply] = []
    for step in script:
        if step[0] == "counsellor takes":
            chat.counsellor_takes(young)
            continue
        choices = offered(young, replies)
        replies = chat.send(inbound_for(step, young, choices))
        check_replies(young, replies)
        if step[0] == "pick" and choices:
            assert not any(map(chat.is_stale, replies)), f"a fresh button was stale: {step}"
    return replies


# --- the properties -------------------------------------------------------------------------


@PROPERTY
@given(setup=st.sampled_from(sorted(SETUPS)), channel=st.sampled_from(CHANNELS), typed=texts())
def test_any_text_in_any_state_gets_valid_replies(
    chat: Chat, setup: str, channel: str, typed: str
) -> None:
    young = new_young(channel)
    play(chat, young, SETUPS[setup])
    replies = chat.send(young.sends(InboundKind.TEXT, text=typed))
    check_replies(young, replies)


@PROPERTY
@given(
    setup=st.sampled_from(sorted(SETUPS)),
    channel=st.sampled_from(CHANNELS),
    before=texts(),
    after=texts(),
)
def test_what_a_young_person_types_is_never_echoed_or_rendered(
    chat: Chat, setup: str, channel: str, before: str, after: str
) -> None:
    young = new_young(channel)
    play(chat, young, SETUPS[setup])
    replies = chat.send(young.sends(InboundKind.TEXT, text=before + CANARY + after))
    check_replies(young, replies)
    check_not_echoed(young, replies)


@PROPERTY
@given(
    setup=st.sampled_from(sorted(SETUPS)),
    channel=st.sampled_from(CHANNELS),
    payload=callback_data(),
)
def test_any_callback_data_gets_valid_replies(
    chat: Chat, setup: str, channel: str, payload: str
) -> None:
    young = new_young(channel)
    play(chat, young, SETUPS[setup])
    check_replies(young, chat.send(young.sends(InboundKind.BUTTON, payload=payload)))


@pytest.mark.parametrize(
    "command", [*KNOWN_COMMANDS, "queue", "take", "", "Start", "start@HealthBot", "💥"]
)
@EACH_CASE
@given(
    setup=st.sampled_from(sorted(SETUPS)),
    channel=st.sampled_from(CHANNELS),
    argument=st.one_of(st.just(""), texts()),
)
def test_every_command_in_any_state_gets_valid_replies(
    chat: Chat, setup: str, channel: str, command: str, argument: str
) -> None:
    young = new_young(channel)
    play(chat, young, [*SETUPS[setup], ("command", command, argument)])


@PROPERTY
@given(
    setup=st.sampled_from(sorted(SETUPS)),
    channel=st.sampled_from(CHANNELS),
    script=st.lists(steps(), min_size=1, max_size=8),
)
def test_any_sequence_of_messages_gets_valid_replies(
    chat: Chat, setup: str, channel: str, script: list[Step]
) -> None:
    young = new_young(channel)
    play(chat, young, [*SETUPS[setup], *script])


# --- the checker itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "plain words",
        "<b>bold</b> &amp; <i>it&#39;s</i> &lt;3 &#x1F600;",
        '<a href="https://example.org/?a=1&amp;b=2">link</a>',
        '<b><i>nested</i></b> <span class="tg-spoiler">x</span> <tg-spoiler>y</tg-spoiler>',
        '<pre><code class="language-python">x</code></pre> <blockquote expandable>q</blockquote>',
    ],
)
def test_the_html_checker_accepts_what_telegram_accepts(text: str) -> None:
    assert telegram_html_problem(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<b></b>",
        "a < b",
        "a > b",
        "fish & chips",
        "&nbsp;",
        "&#0;",
        "<script>x</script>",
        "<b>open",
        "<b><i>crossed</b></i>",
        "</b>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="https://e.org/?a=1&b=2">x</a>',
        "<span>x</span>",
        '<b class="x">x</b>',
        "<code><b>x</b></code>",
    ],
)
def test_the_html_checker_refuses_what_telegram_refuses(text: str) -> None:
    assert telegram_html_problem(text) is not None


@pytest.mark.parametrize(
    "text", ["<b>x</b>", "&amp;", "&#39;", "</i>"], ids=["tag", "named", "numeric", "close"]
)
def test_plain_replies_may_hold_no_markup(text: str) -> None:
    assert PLAIN_MARKUP.search(f"before {text} after") is not None


# --- regressions: the smallest failing examples these properties found -----------------------


def talking_with_a_counsellor(chat: Chat, channel: str = "telegram") -> tuple[Young, str]:
    """A young person whose case a counsellor has taken, and the counsellor's address."""
    young = new_young(channel)
    chat.send(young.sends(InboundKind.BUTTON, payload="ask:talk_to_counsellor"))
    return young, chat.counsellor_takes(young)


def test_a_long_message_to_the_counsellor_reaches_only_the_counsellor(chat: Chat) -> None:
    young, counsellor = talking_with_a_counsellor(chat)
    replies = chat.send(young.sends(InboundKind.TEXT, text="a" * 4096))
    assert len(replies) == 2  # "Case N: aaa…" is over Telegram's limit: two messages
    assert [reply.to for reply in replies] == [counsellor, counsellor]


def test_a_long_message_from_the_counsellor_reaches_only_the_young_person(chat: Chat) -> None:
    young, counsellor = talking_with_a_counsellor(chat)
    says = Inbound("staff", "telegram", InboundKind.TEXT, text="b" * 4096, address=counsellor)
    replies = chat.send(says)
    assert len(replies) == 2  # "Counsellor" and the 4,096 characters: two messages
    assert [reply.to for reply in replies] == [young.address, young.address]


@pytest.mark.parametrize("offset", range(5))  # most offsets cut inside an `&amp;`
def test_a_long_relayed_message_is_split_between_entities(chat: Chat, offset: int) -> None:
    young, _ = talking_with_a_counsellor(chat)
    replies = chat.send(young.sends(InboundKind.TEXT, text="x" * offset + "&" * 1000))
    for reply in replies:
        assert telegram_html_problem(reply.text) is None


@pytest.mark.parametrize(
    "latitude, longitude",
    [(0.0, 1e26), (1e300, 36.8), (91.0, 0.0), (math.nan, math.nan), (-math.inf, 36.8)],
)
def test_a_location_out_of_range_gets_a_kind_reply_and_no_dud_buttons(
    chat: Chat, latitude: float, longitude: float
) -> None:
    play(chat, new_young("telegram"), [("location", latitude, longitude), ("pick", 0)])
