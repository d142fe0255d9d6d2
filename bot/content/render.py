"""Render content for a channel: editors' text in a sandbox, then a per-channel Jinja2 template.

Editors' text may use `{{ helplines.KEY.number }}` (and `.name`, `.hours`); it is rendered in a
sandboxed environment with StrictUndefined, so a typo is an error, never an empty gap, and whatever
could take long or much memory is refused (`EditorsSandbox`). The result is inserted into
`content/templates/<format>/*.j2`, where the HTML environment escapes every value. User text is
never rendered as a template.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeGuard

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

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


# Editors' text is rendered by the bot and by the console's previews, in their event loops: it
# may use values, conditions and short loops, and nothing that could take long or take much memory.
MAX_REPEAT = 1000  # "ab" * n: n larger than this is refused, not allocated
MAX_NUMBER = 10_000  # no number above this in a call, a filter or a format
MAX_TEXT = 10_000  # characters (or items) in any text or list it makes, and in what it renders
MAX_WORK = 1_000_000  # a call's subject's length times its longest argument's (`replace`)
MAX_LOOP_DEPTH = 2
REFUSED = "not allowed in content text"  # in every refusal below: shown to the editor as it is
_STATEMENTS: dict[type[nodes.Node], str] = {
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.With: "with",
    nodes.Block: "block",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Extends: "extends",
}
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?")
_SIZED = (str, list, tuple, dict, set, frozenset)
_INTERNAL_KEYWORDS = ("_loop_vars", "_block_vars", "caller")


class EditorsSandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox, refusing what could exhaust time or memory (see MAX_*).

    No globals (`range`, `lipsum`, `cycler`, `joiner`, `namespace`: content uses none); only
    `{{ values }}`, `{% if %}` and `{% for %}` over a variable, two loops deep at most; no `**`;
    `*`, `+` and `%` on texts and lists, every method call and every filter checked for big
    numbers and big results; nothing the renderer passes in can be changed.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.clear()
        self.filters = {name: _guarded(name, f) for name, f in self.filters.items()}

    def editors_template(self, source: str) -> Template:
        """Compile editors' text, refusing every statement but `if` and `for` over a variable."""
        tree = self.parse(source)
        _check_statements(tree.body, depth=0)
        return self.from_string(tree)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Multiply, add and format small things only; never raise to a power."""
        if operator == "**":
            raise SecurityError(f"powers (**) are {REFUSED}")
        if operator == "*":
            sequence, times = (left, right) if isinstance(left, _SIZED) else (right, left)
            if _is_number(times) and isinstance(sequence, _SIZED):
                if abs(times) > MAX_REPEAT:
                    raise SecurityError(f"repeating text more than {MAX_REPEAT} times is {REFUSED}")
                _check_size(len(sequence) * abs(times))
        elif operator == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
            _check_size(len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
            _check_arguments(left, right if isinstance(right, tuple) else (right,), {})
        return _checked_result(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call a method with small numbers only, and refuse a big result."""
        method = getattr(obj, "__wrapped__", obj)  # str.format comes wrapped by the sandbox
        _check_arguments(getattr(method, "__self__", None), args, kwargs)
        return _checked_result(super().call(context, obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format` and `format_map`, refused for a format with a big width or precision."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter checked like a method call (templates call filters directly, not via `call`)."""

    @functools.wraps(function)  # keeps the pass_context (and the like) marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, Context | EvalContext | Environment)]
        subject = values[0] if values else None
        if name == "format" and isinstance(subject, str):
            _check_printf(subject)
        _check_arguments(subject, values[1:], kwargs)
        return _checked_result(function(*args, **kwargs))

    return guarded


def _is_number(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size(size: int) -> None:
    if size > MAX_TEXT:
        raise SecurityError(f"texts or lists over {MAX_TEXT:,} characters or items are {REFUSED}")


def _check_number(digits_or_number: str | int) -> None:
    number = digits_or_number
    if isinstance(number, str):  # digits from a format: compared before int() can take long
        number = MAX_NUMBER + 1 if len(number) > len(str(MAX_NUMBER)) else int(number)
    if abs(number) > MAX_NUMBER:
        raise SecurityError(f"numbers above {MAX_NUMBER:,} are {REFUSED}")


def _check_arguments(subject: object, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """No number above MAX_NUMBER; no text or list so long that the work could be huge."""
    given = [*args, *(v for k, v in kwargs.items() if k not in _INTERNAL_KEYWORDS)]
    for number in filter(_is_number, given):
        _check_number(number)
    base = len(subject) if isinstance(subject, _SIZED) else 1
    longest = max((len(v) for v in given if isinstance(v, _SIZED)), default=0)
    if base * max(longest, 1) > MAX_WORK:
        raise SecurityError(f"combining texts or lists this long is {REFUSED}")


def _checked_result(value: Any) -> Any:
    if isinstance(value, _SIZED):
        _check_size(len(value))
    return value


def _check_format(text: str) -> None:
    """A `str.format` format with small widths and precisions, none of them a nested `{}`."""
    for _literal, field, spec, _conversion in string.Formatter().parse(text):
        if field is None or not spec:
            continue
        if "{" in spec:
            raise SecurityError(f"a {{}} inside a format is {REFUSED}")
        for digits in re.findall(r"\d+", spec):
            _check_number(digits)


def _check_printf(text: str) -> None:
    """A `%` format with small widths and precisions, none of them `*`."""
    for found in _PRINTF.finditer(text):
        for part in found.groups():
            if part == "*":
                raise SecurityError(f"* in a % format is {REFUSED}")
            if part:
                _check_number(part)


def _check_statements(body: Sequence[nodes.Node], *, depth: int) -> None:
    """Only output, `if` and `for` over a variable, nested at most MAX_LOOP_DEPTH loops deep."""
    for node in body:
        if isinstance(node, nodes.Output):
            continue
        if isinstance(node, nodes.If):
            _check_statements([*node.body, *node.elif_, *node.else_], depth=depth)
        elif isinstance(node, nodes.For):
            if node.recursive:
                raise SecurityError(f"recursive loops are {REFUSED}")
            if depth >= MAX_LOOP_DEPTH:
                raise SecurityError(f"loops more than {MAX_LOOP_DEPTH} deep are {REFUSED}")
            if not _is_variable(node.iter):
                raise SecurityError(
                    "loops over anything but a variable (as in {% for t in topics %}) are "
                    + REFUSED
                )
            _check_statements(node.body, depth=depth + 1)
            _check_statements(node.else_, depth=depth)
        else:
            word = _STATEMENTS.get(type(node), type(node).__name__.lower())
            raise SecurityError(
                f"{{% {word} %}} is {REFUSED} (only {{{{ values }}}}, {{% if %}} and "
                "{% for %} over a variable are)"
            )


def _is_variable(node: nodes.Node) -> bool:
    """`topics`, `helplines.one2one`, `helplines["one2one"]`: a value passed in, not made."""
    if isinstance(node, nodes.Name):
        return True
    if isinstance(node, nodes.Getattr):
        return _is_variable(node.node)
    if isinstance(node, nodes.Getitem):
        return isinstance(node.arg, nodes.Const) and _is_variable(node.node)
    return False


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

    def helplines(self, language: str) -> dict[str, dict[str, str]]:
        """The helplines by key, each with its number, name and hours in `language`."""
        return self._helplines[_lang(language)]

    def use(self, store: ContentStore) -> None:
        """Render from `store` from now on (content reloaded; helplines and templates unchanged)."""
        self._store = store

    def text(self, source: str, language: str, values: Mapping[str, object] | None = None) -> str:
        """Render one piece of editors' text (an answer, a UI string) in `language`.

        `values` fill the few UI variables (UI_VARIABLES), never text a user typed.
        """
        template = self._compiled.get(source)
        if template is None:
            template = self._sandbox.editors_template(source)
            self._compiled[source] = template
        pieces, size = [], 0
        for piece in template.generate(values or {}, helplines=self._helplines[_lang(language)]):
            size += len(piece)
            if size > MAX_TEXT:
                raise SecurityError(f"more than {MAX_TEXT:,} characters are {REFUSED}")
            pieces.append(piece)
        return "".join(pieces).strip()

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
