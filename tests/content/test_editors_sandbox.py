"""The sandbox editors' text renders in: what content uses works, what could hang or eat memory
is refused at once with words an editor can act on.

The bot and the console render editors' text in their event loops, so a refusal must come before
the work, not after it. `test_hostile_requests` renders the worst of these in a child process with
a memory limit; here each must be refused in well under a second.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from jinja2 import TemplateError
from jinja2.exceptions import SecurityError

from bot import paths
from bot.content.checks import check_revision
from bot.content.live import file_items
from bot.content.render import MAX_NUMBER, MAX_REPEAT, MAX_TEXT, REFUSED, Renderer
from bot.content.store import ContentStore
from nlu.examples import raw_examples

VALUES: dict[str, object] = {"topics": ["PrEP", "HIV testing"], "position": 2}

ALLOWED = {
    "a helpline": ("Call {{ helplines.one2one.number }}.", "Call 1190."),
    "a condition": (
        "{% if position == 1 %}next{% elif position %}number {{ position }}{% else %}-{% endif %}",
        "number 2",
    ),
    "join": ('{{ topics | join(", ") }}', "PrEP, HIV testing"),
    "a loop over a variable": ("{% for t in topics %}[{{ t }}]{% endfor %}", "[PrEP][HIV testing]"),
    "two loops deep": (
        "{% for t in topics %}{% for c in t %}{% endfor %}{{ loop.index }}{% endfor %}",
        "12",
    ),
    "a small repeat": ("{{ 'ab' * 3 }}", "ababab"),
    "a small format": ("{{ '{:>4}'.format(position) }}|{{ '%03d' % position }}", "2|002"),
    "a small filter": ("[{{ 'x' | center(5) }}]", "[  x  ]"),
    "a default": ("{{ missing | default('none yet') }}", "none yet"),
    "arithmetic": ("{{ 7 * 7 }} {{ 10000 + 1 }}", "49 10001"),
}

REFUSED_TEMPLATES = {
    # the globals content never uses
    "range": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "lipsum": "{{ lipsum(5) }}",
    "cycler": "{{ cycler('a', 'b').next() }}",
    "joiner": "{{ joiner(',')() }}",
    "namespace": "{{ namespace(a=1).a }}",
    "dict": "{{ dict(a=1) }}",
    # statements beyond values, conditions and loops
    "set": "{% set a = 'x' * 9999 %}{% set a = a + a %}{{ a }}",
    "set block": "{% set a %}x{% endset %}{{ a }}",
    "macro": "{% macro m() %}x{% endmacro %}{{ m() }}",
    "with": "{% with a = 'x' %}{{ a }}{% endwith %}",
    "filter block": "{% filter upper %}x{% endfilter %}",
    "call block": "{% call topics %}x{% endcall %}",
    "include": "{% include '/etc/passwd' %}",
    "extends": "{% extends 'base.html' %}",
    # loops: only over a variable, two deep, not recursive
    "a loop over a made-up text": (
        "{% for a in 'x' * 9999 %}{% for b in 'x' * 9999 %}{% endfor %}{% endfor %}"
    ),
    "a loop over a filter": "{% for a in topics | batch(1) %}{% endfor %}",
    "three loops deep": (
        "{% for a in helplines %}{% for b in helplines %}{% for c in helplines %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    ),
    "a recursive loop": "{% for t in topics recursive %}{{ loop(t) }}{% endfor %}",
    # repeats, sums and formats that come to too much
    "a power": "{{ 10 ** 10 }}",
    "a long repeat": "{{ 'x' * 100000000 }}",
    "a repeat of a repeat": "{{ ('x' * 1000) * 1000 * 1000 }}",
    "a long list repeat": "{{ [1, 2] * 10000 }}",
    "a list repeat too long": "{{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] * 1000 }}",
    "a sum of long texts": "{{ ('xxxxxxxxx' * 1000) + ('yyyyyyyyy' * 1000) }}",
    "str.ljust": "{{ 'x'.ljust(1000000000) }}",
    "str.zfill": "{{ '1'.zfill(1000000000) }}",
    "str.center": "{{ 'x'.center(width=1000000000) }}",
    "the center filter": "{{ 'x' | center(1000000000) }}",
    "the indent filter": "{{ 'x\ny' | indent(1000000000) }}",
    "the wordwrap filter": "{{ 'x y' | wordwrap(1000000000) }}",
    "the truncate filter": "{{ 'x' | truncate(1000000000) }}",
    "a format width": "{{ '{:>1000000000}'.format('x') }}",
    "a format precision": "{{ '{:.1000000000f}'.format(1) }}",
    "a nested format width": "{{ '{:>{}}'.format('x', 5) }}",
    "format_map": "{{ '{:>{w}}'.format_map({'w': 5}) }}",
    "a % width": "{{ '%1000000000s' % 'x' }}",
    "a % star width": "{{ '%*s' % (5, 'x') }}",
    "the format filter": "{{ '%1000000000s' | format('x') }}",
    "a replace that multiplies": "{{ ('xxxxx' * 1000) | replace('x', 'yyyyy' * 1000) }}",
    "a join that multiplies": "{{ ('yyyyy' * 1000).join('xxxxx' * 1000) }}",
    "a format that repeats": "{{ '{0}{0}{0}{0}{0}'.format('xxxxx' * 1000) }}",
    "too much output": "{{ 'xxxxxxxxx' * 1000 }}{{ 'xxxxxxxxx' * 1000 }}",
    # what the renderer passes in cannot be changed
    "appending to a value": "{{ topics.append('x') }}",
    "changing a helpline": "{{ helplines.update({'one2one': 'x'}) }}",
}


@pytest.fixture(scope="module")
def sandbox(content: ContentStore) -> Renderer:
    return Renderer(content)


@pytest.mark.parametrize(("source", "text"), ALLOWED.values(), ids=ALLOWED.keys())
def test_what_content_uses_renders(sandbox: Renderer, source: str, text: str) -> None:
    assert sandbox.text(source, "en", VALUES) == text


@pytest.mark.parametrize("source", REFUSED_TEMPLATES.values(), ids=REFUSED_TEMPLATES.keys())
def test_what_could_hang_or_eat_memory_is_refused_at_once(sandbox: Renderer, source: str) -> None:
    values = copy.deepcopy(VALUES)
    started = time.monotonic()
    with pytest.raises(TemplateError) as refused:
        sandbox.text(source, "en", values)
    assert time.monotonic() - started < 0.5
    if isinstance(refused.value, SecurityError):
        message = str(refused.value)
        assert REFUSED in message or "is unsafe" in message, message
    assert values == VALUES, "nothing passed in was changed"


def test_the_limits_are_what_the_messages_say(sandbox: Renderer) -> None:
    def repeat(text: str, times: int) -> str:
        return "{{ '" + text + "' * " + str(times) + " }}"

    def center(width: int) -> str:
        return "{{ 'x' | center(" + str(width) + ") }}"

    ten = "x" * (MAX_TEXT // MAX_REPEAT)
    assert sandbox.text(repeat(ten, MAX_REPEAT), "en") == "x" * MAX_TEXT
    assert sandbox.text(center(MAX_NUMBER), "en") == "x"  # stripped
    with pytest.raises(SecurityError, match=f"more than {MAX_REPEAT} times"):
        sandbox.text(repeat("x", MAX_REPEAT + 1), "en")
    with pytest.raises(SecurityError, match=f"over {MAX_TEXT:,} characters"):
        sandbox.text(repeat(ten + "x", MAX_REPEAT), "en")
    with pytest.raises(SecurityError, match=f"above {MAX_NUMBER:,}"):
        sandbox.text(center(MAX_NUMBER + 1), "en")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{{ 'x'.ljust(1000000000) }}",
            "The text cannot be used: numbers above 10,000 are not allowed in content text.",
        ),
        (
            "{% for a in range(10) %}{% endfor %}",
            "The text cannot be used: loops over anything but a variable",
        ),
        ("{% set a = 1 %}", "The text cannot be used: {% set %} is not allowed in content text"),
    ],
)
def test_a_refusal_reaches_the_editor_in_the_sandboxs_own_words(
    content: ContentStore, source: str, message: str
) -> None:
    kind, body = file_items(content, raw_examples(paths.NLU_DATA_DIR))["hiv_prep"]
    edited: dict[str, Any] = copy.deepcopy(body)
    edited["answer"]["en"] = f"PrEP is a daily pill. {source}"
    problems = check_revision(content, "hiv_prep", kind, edited)
    assert any(f == "answer.en" and m.startswith(message) for f, m in problems), problems
