"""Snapshot tables: new rows on top stay visible; a row the trader picked stays picked."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult

from console.tui.widgets.tables import SnapshotTable


class Rows(SnapshotTable):
    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (("Name", "name"),)


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Rows(id="rows")


def rows(*keys: str) -> list[tuple[str, tuple[Text, ...]]]:
    return [(k, (Text(k),)) for k in keys]


async def test_new_rows_on_top_stay_in_view_when_the_cursor_is_on_top() -> None:
    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Rows)
        table.set_rows(rows(*(f"old{i}" for i in range(40))))
        await pilot.pause()
        for n in range(5):
            table.set_rows(rows(f"new{n}", *[k for k, _ in table._rows]))
            await pilot.pause()
            assert table.cursor_row == 0 and table.scroll_offset.y == 0
            assert table._rows[0][0] == f"new{n}"


async def test_a_row_the_trader_moved_to_stays_selected() -> None:
    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Rows)
        table.set_rows(rows(*(f"k{i}" for i in range(20))))
        await pilot.pause()
        table.move_cursor(row=5, animate=False)
        table.set_rows(rows("fresh", *[k for k, _ in table._rows]))
        await pilot.pause()
        assert table._rows[table.cursor_row][0] == "k5"
