"""What a `RowPatchedTable` draws with: a frame's settings, cached cells and rows, the keys
they are kept under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.strip import Strip
from textual.widgets.data_table import CursorType, RowKey

from console.tui.text import looks

Cell = Text
"""Every cell is a `Text`: a plain str cell would be parsed as markup."""


RowRef = str | int
"""How a drawn row is named in its cells' click meta: its key, so that a row's drawing stays
valid when rows above it come or go (a row added without a key, and the header, by index)."""
CellPlace = tuple[RowRef, bool, bool, int, Style, bool, bool, bool, object, int]
"""How a cell is drawn: its row (`RowRef`), header, fixed, column index (the click meta), the
row's style, under the cursor, under the mouse, hover shown, the table's pseudo-classes
(focus) and its style generation."""
STYLED_KEPT = 4
"""Styled copies kept per rendered cell (cursor on/off, hover, the stripe, a move or two)."""
LINES_KEPT = 8
"""Drawn lines kept per row (its stripes, with and without the cursor or the mouse)."""
ROWS_KEPT = 500
"""Rows whose drawn lines are kept (the rows in view, and those a scroll brings back)."""
LAYOUTS_KEPT = 2000
"""Laid-out texts kept by what they show: most of a new row's cells (its state, side, type,
quantity, the empty ones) show what a cell above already shows."""


@dataclass(slots=True)
class CellLines:
    """One cell rendered without its row's style, cursor or place: the text laid out once."""

    datum: object
    """The value rendered (a changed value is a new object: the identity says it is current)."""
    width: int
    height: int
    padding: int
    lines: list[list[Segment]]
    styled: dict[CellPlace, list[list[Segment]]] = field(default_factory=dict)
    """These lines as drawn at a place (row and column index, row style, cursor, hover...)."""


@dataclass(slots=True)
class RowStrips:
    """A row's drawn lines, for one content of the row: a changed cell drops them all (a
    price tick's old lines are garbage at once, not kept by a cache for the collector to
    scan: each strip is about 20 tracked objects)."""

    content: object
    """The row's content version and height (the header: its labels)."""
    strips: dict[tuple[object, ...], Strip] = field(default_factory=dict)
    """By line in the row, stripe, cursor, mouse, crop and the frame's drawing settings."""


@dataclass(frozen=True, slots=True)
class Drawing:
    """The table's settings a frame's cells are drawn with, read once per frame (each is a
    reactive attribute, and DataTable reads them for every cell)."""

    style: Style
    padding: int
    hover_shown: bool
    show_cursor: bool
    cursor_type: CursorType
    fixed_rows: int
    fixed_columns: int
    css_foreground: bool
    css_background: bool
    width: int
    scroll_x: int
    """The columns scrolled off to the left (a line is cut to what is right of them)."""
    columns: tuple[int, ...]
    """Each column's width as drawn."""
    labels: tuple[tuple[str, object], ...]
    """Each column's header text and style."""
    scroll_y: int = field(compare=False)
    """The lines scrolled off the top: which rows are drawn, not how (a drawn line is kept
    by the settings above, and a vertical scroll leaves every row's lines valid)."""
    fixed_height: int = field(compare=False)
    """The lines that do not scroll: the header's and the fixed rows'."""


def value_width(value: Cell) -> int:
    """The cells a value needs on one line (its widest line)."""
    return max(cell_len(line) for line in value.plain.split("\n"))


def mark(row_index: int, location: Coordinate, cursor_type: CursorType) -> object:
    """What of a cursor (or the hover) at `location` falls on the row at `row_index`: the
    cells DataTable's `_should_highlight` would light there follow from it."""
    if cursor_type == "row":
        return location.row == row_index
    if cursor_type == "cell":
        return location.column if location.row == row_index else None
    if cursor_type == "column":
        return location.column
    return None


def as_row_key(key: RowKey | str) -> RowKey:
    return RowKey(key) if isinstance(key, str) else key


def discard_where(cache: LRUCache[Any, Any], stale: Callable[[Any], bool]) -> None:
    """Drop the entries of a DataTable render cache whose key `stale` picks."""
    keys = cache.keys()
    for key in [k for k in keys if stale(k)]:
        cache.discard(key)


def layout_key(text: Text, width: int, height: int, padding: int) -> tuple[object, ...]:
    """Everything that decides how `text` is laid out in a cell: what it shows (characters,
    spans, style, justification), its overflow, wrap, line end and tabs, and the cell's size."""
    return (
        *looks(text),
        text.overflow,
        text.no_wrap,
        text.end,
        text.tab_size,
        width,
        height,
        padding,
    )
