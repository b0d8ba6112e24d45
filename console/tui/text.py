"""Text from outside (intents, evidence, broker, alerts) made printable and kept out of markup."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.text import Text

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 (ESC included), DEL, C1, and the invisible direction / line controls."""


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """`str(value)` with every control character shown escaped (`\\x1b`), never sent raw."""
    return _UNPRINTABLE.sub(_escaped, str(value))


def shown(value: object, style: str = "", *, justify: str | None = None) -> Text:
    """Outside text as a Rich `Text`: printable, and never parsed as markup."""
    return Text(printable(value), style=style, justify=justify)  # type: ignore[arg-type]


def looks(text: Text) -> tuple[object, ...]:
    """What `text` looks like on screen, comparable: `Text.__eq__` ignores the base style and
    the justification."""
    return (text.plain, tuple(text.spans), text.style, text.justify)


def drawn(parts: Iterable[tuple[Text, object]]) -> tuple[object, ...]:
    """What a widget's texts (each with what else places it, e.g. a priority) look like."""
    return tuple((looks(text), extra) for text, extra in parts)
