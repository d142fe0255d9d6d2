"""Render content for a channel: editors' text in a sandbox, then a per-channel Jinja2 template.

Editors' text may use `{{ helplines.KEY.number }}` (and `.name`, `.hours`); it is rendered in a
sandboxed environment with StrictUndefined, so a typo is an error, never an empty gap. The result is
inserted into `content/templates/<format>/*.j2`, where the HTML environment escapes every value.
User text is never rendered as a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from bot.config import DEFAULT_RETENTION_DAYS
from bot.content.store import ContentStore

Format = Literal["html", "plain"]
FORMATS: tuple[Format, ...] = ("html", "plain")
# The variables a UI string may use besides `helplines`, with the values the validator tries.
UI_VARIABLES: dict[str, object] = {
    "position": 1,
    "hours": "08:00-20:00",
    "retention_days": DEFAULT_RETENTION_DAYS,  # privacy, mydata
    # mydata (what /mydata shows: bot.erasure.UserSummary)
    "chosen_language": "en",  # its code; "" before they choose
    "first_seen": "2026-01-31",
    "last_seen": "2026-02-01",
    "messages_in": 12,
    "messages_out": 10,
    "topics": ["PrEP", "Getting tested for HIV"],
    "topics_more": 1,
    "feedback": 2,
    "cases_open": 1,
    "cases_closed": 1,
    "transcript": 4,
    "sealed_addresses": 1,
    "chat_ids": 20,
}


MAX_REPEAT = 1000  # "ab" * n in editors' text: n larger than this is refused, not allocated


class EditorsSandbox(SandboxedEnvironment):
    """Jinja's sandbox, also refusing `**` and a large `*`: editors' text cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Multiply small things only; never raise to a power."""
        if operator == "**":
            raise SecurityError("powers (**) are not allowed in content text")
        sizes = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        repeats = isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple)
        if repeats and any(abs(v) > MAX_REPEAT for v in sizes):
            raise SecurityError(f"repeating text more than {MAX_REPEAT} times is not allowed")
        return super().call_binop(context, operator, left, right)


class Renderer:
    """Turns content and UI strings into finished message text for one format."""

    def __init__(self, store: ContentStore, templates: Path | None = None) -> None:
        self._store = store
        # Editors' text is plain text; escaping happens once, in the channel template.
        self._sandbox = EditorsSandbox(undefined=StrictUndefined, autoescape=False)
        self._compiled: dict[str, Template] = {}
        folder = templates or store.root / "templates"
        self._channels = {
            fmt: Environment(
                loader=FileSystemLoader(folder / fmt),
                autoescape=fmt == "html",  # noqa: S701 - HTML is escaped; plain text has no markup
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=False,
            )
            for fmt in FORMATS
        }
        self._helplines = {
            lang: {
                key: {"number": h.number, "name": h.name.get(lang), "hours": h.hours.get(lang)}
                for key, h in store.helplines.items()
            }
            for lang in ("en", "sw")
        }

    def use(self, store: ContentStore) -> None:
        """Render from `store` from now on (content reloaded; helplines and templates unchanged)."""
        self._store = store

    def text(self, source: str, language: str, values: Mapping[str, object] | None = None) -> str:
        """Render one piece of editors' text (an answer, a UI string) in `language`.

        `values` fill the few UI variables (UI_VARIABLES), never text a user typed.
        """
        template = self._compiled.get(source)
        if template is None:
            template = self._sandbox.from_string(source)
            self._compiled[source] = template
        return template.render(values or {}, helplines=self._helplines[_lang(language)]).strip()

    def ui(self, key: str, language: str, **values: object) -> str:
        """A UI string from `content/ui.yml`, rendered in `language`."""
        return self.text(self._store.ui[key].get(language), language, values)

    def page(self, fmt: Format, name: str, **values: Any) -> str:
        """Render `templates/<fmt>/<name>.j2` with `values` (escaped in HTML)."""
        template = self._channels[fmt].get_template(f"{name}.j2")
        return template.render(**values).strip()

    def message(self, fmt: Format, body: str, title: str | None = None) -> str:
        """A plain message: optional bold title, then the body."""
        return self.page(fmt, "message", title=title, body=body)

    def answer(self, fmt: Format, intent: str, language: str) -> str:
        """The first answer to a topic intent, with its sources, review date and feedback prompt."""
        item = self._store.topics[intent]
        return self.page(
            fmt,
            "answer",
            title=item.title.get(language),
            body=self.text(item.answer.get(language), language),
            sources=[_short_publisher(s.publisher) + f" {s.year}" for s in item.sources],
            reviewed_on=item.reviewed_on.isoformat(),
            labels=self._labels(language, "sources", "reviewed", "ask_helpful"),
        )

    def more(self, fmt: Format, intent: str, language: str) -> str:
        """The "tell me more" part, with the full list of sources and links."""
        item = self._store.topics[intent]
        return self.page(
            fmt,
            "more",
            title=item.title.get(language),
            body=self.text(item.more.get(language), language),
            sources=item.sources,
            reviewed_on=item.reviewed_on.isoformat(),
            labels=self._labels(language, "sources", "reviewed"),
        )

    def _labels(self, language: str, *keys: str) -> dict[str, str]:
        return {key: self.ui(f"label_{key}", language) for key in keys}


def _lang(language: str) -> str:
    return "sw" if language == "sw" else "en"


def _short_publisher(publisher: str) -> str:
    """`Ministry of Health, National AIDS & STI Control Programme (NASCOP)` → `NASCOP`."""
    if publisher.endswith(")") and "(" in publisher:
        return publisher[publisher.rindex("(") + 1 : -1]
    return publisher
