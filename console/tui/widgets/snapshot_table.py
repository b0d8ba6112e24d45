"""The console's lists over `RowPatchedTable`: rows by key, `/` filter, `s` sort."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Input
from textual.widgets.data_table import ColumnKey

from console.tui.text import looks
from console.tui.widgets.row_patched_table import Cell, RowPatchedTable

Row = tuple[str, tuple[Cell, ...]]

CHILD = "/"
"""In a row key, joins the parent row's key and the child's name ("intent/SL"): a child row
(a bracket leg, a style's progress) stays under its parent when filtered or sorted."""
REBUILD_OVER = 64
"""Removing more rows than this (and more than half the table) at once, e.g. a new filter on a
long list, clears and re-adds instead: each `remove_row` walks every row."""


def sort_value(cell: Cell) -> tuple[int, Decimal, str]:
    """Numbers (prices, quantities, money) by value, everything else by its text."""
    plain = cell.plain.strip()
    number = plain.replace(",", "").replace("$", "").replace("%", "").replace("+", "")
    try:
        value = Decimal(number)
    except InvalidOperation:
        return (1, Decimal(0), plain.lower())
    if not value.is_finite():
        return (1, Decimal(0), plain.lower())
    return (0, -value, "")  # numbers: largest first


class TableFilter(Input):
    """The `/` filter of one table: rows stay whose text contains what is typed. Printable keys
    are text here (capital letters too); enter returns to the table, escape clears and closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Clear filter")]

    def __init__(self, table: SnapshotTable) -> None:
        super().__init__(placeholder="filter: symbol, state, intent…", classes="table-filter")
        self.table = table

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()
        if not event.value:
            self.remove()

    def action_close(self) -> None:
        self.table.set_filter("")
        self.table.focus()
        self.remove()


class SnapshotTable(RowPatchedTable):
    """A DataTable fed whole snapshots but changed row by row: rows that left are removed, new
    rows added, changed cells updated in place (`update_cell`); the table is never cleared for a
    value change. A cursor on the top row stays on top (the newest row); a cursor the trader
    moved down stays on the same key."""

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    WIDTHS: ClassVar[dict[str, int]] = {}
    """Fixed widths by column key; the other columns fit their content."""
    HAS_CHILD_ROWS: ClassVar[bool] = False
    """Rows keyed `parent/child` stay under their parent (`CHILD`). Only where keys cannot
    hold the separator themselves (intent ids): a Positions row is keyed by its symbol, and
    `BRK/B` is no child of `BRK`."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", show=False),
        Binding("s", "cycle_sort", "Sort", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._given: list[Row] = []
        """The rows last given, unfiltered, in their natural order."""
        self._cells: dict[str, tuple[Cell, ...]] = {}
        """What the DataTable holds, by row key (the very objects it holds)."""
        self._order: list[str] = []
        """Row keys top to bottom as shown."""
        self.filter_text = ""
        self.sort_column: int | None = None
        """Index into COLUMNS the rows are sorted by; None: the natural order."""
        self.changes = 0
        """Counts the updates that changed what the table shows (a row came, went, moved or a
        cell changed): the screen paints an Orders change at once (`MainScreen`)."""

    @property
    def _rows(self) -> list[Row]:
        """The rows shown, top to bottom."""
        return [(key, self._cells[key]) for key in self._order]

    def on_mount(self) -> None:
        for label, key in self.COLUMNS:
            self.add_column(label, key=key, width=self.WIDTHS.get(key))

    def set_rows(self, rows: Sequence[Row]) -> None:
        self._given = list(rows)
        self._apply()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._apply()

    def action_filter(self) -> None:
        """`/`: type to keep only the rows containing the text (any column)."""
        existing = self._filter_input()
        if existing is not None:
            existing.focus()
            return
        if not isinstance(self.parent, Widget):
            return
        box = TableFilter(self)
        self.parent.mount(box, after=self)
        box.focus()

    def _filter_input(self) -> TableFilter | None:
        if self.parent is None:
            return None
        return next((w for w in self.parent.query(TableFilter) if w.table is self), None)

    def action_cycle_sort(self) -> None:
        """`s`: natural order -> each column in turn (numbers largest first) -> natural."""
        self.sort_column = (
            0
            if self.sort_column is None
            else (self.sort_column + 1 if self.sort_column + 1 < len(self.COLUMNS) else None)
        )
        for index, (label, key) in enumerate(self.COLUMNS):
            shown = f"{label} ▼" if index == self.sort_column else label
            self.columns[ColumnKey(key)].label = Text(shown)
        self._apply(force_order=True)

    def _matches(self, cells: tuple[Cell, ...]) -> bool:
        return not self.filter_text or any(self.filter_text in c.plain.lower() for c in cells)

    def _filtered_sorted(self) -> list[Row]:
        """The given rows as shown: each parent with its children, the group kept when any of
        its rows matches the filter; groups sorted by their parent's cell."""
        groups: list[list[Row]] = []
        for row in self._given:
            parent = row[0].split(CHILD, 1)[0] if self.HAS_CHILD_ROWS and CHILD in row[0] else None
            if groups and parent == groups[-1][0][0]:
                groups[-1].append(row)
            else:
                groups.append([row])
        groups = [g for g in groups if any(self._matches(cells) for _, cells in g)]
        column = self.sort_column
        if column is not None:
            groups.sort(key=lambda group: sort_value(group[0][1][column]))
        return [row for group in groups for row in group]

    def _apply(self, *, force_order: bool = False) -> None:
        rows = self._filtered_sorted()
        wanted = dict(rows)
        order = [key for key, _ in rows]
        gone = [key for key in self._order if key not in wanted]
        keep = None
        if self._order and 0 < self.cursor_row < len(self._order):
            keep = self._order[self.cursor_row]  # the trader moved onto this row: follow it
        if len(gone) > REBUILD_OVER and len(gone) * 2 > len(self._order):
            self.clear()
            self._cells, self._order = {}, []
        else:
            for key in gone:
                self.remove_row(key)
                del self._cells[key]
        held = [key for key in self._order if key in wanted]
        changed = bool(gone)
        for key, cells in rows:
            before = self._cells.get(key)
            if before is None:
                self.add_row(*cells, key=key)
                self._cells[key] = cells
                held.append(key)
                changed = True
                continue
            merged = []
            for (_, column_key), new, old in zip(self.COLUMNS, cells, before, strict=True):
                if looks(new) == looks(old):
                    merged.append(old)  # the object the DataTable holds (see `_reorder`)
                else:
                    self.patch_cell(key, column_key, new)
                    merged.append(new)
                    changed = True
            self._cells[key] = tuple(merged)
        self._lay_out_new_rows()
        if held != order or force_order:
            self._reorder(order)
        moved = order != self._order
        self._order = order
        if changed or moved:
            self.changes += 1
        if not moved:
            return
        if keep in wanted:
            self.move_cursor(row=order.index(keep), animate=False)
        elif order:
            # On the top row the table follows the newest: new rows never scroll out of view.
            self.move_cursor(row=0, animate=False)
            self.scroll_home(animate=False)

    def _lay_out_new_rows(self) -> None:
        """Size the rows just added now, as DataTable does when it next goes idle: a new order
        is in the table at once, and must not wait off screen for that idle moment."""
        if self._require_update_dimensions:
            self._require_update_dimensions = False
            new_rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(new_rows)

    def _reorder(self, order: list[str]) -> None:
        """Put the rows in `order` without touching them: DataTable.sort with a key that finds
        each row by the identity of its first cell."""
        position = {id(self._cells[key][0]): index for index, key in enumerate(order)}
        self.sort(key=lambda values: position[id(values[0])])
