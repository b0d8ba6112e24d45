"""Snapshot tables: new rows on top stay visible; a row the trader picked stays picked."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets.data_table import RowKey

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


class Counted(Rows):
    """Counts what the table does to the DataTable underneath."""

    def __init__(self) -> None:
        super().__init__(id="counted")
        self.added: list[str | None] = []
        self.removed: list[object] = []
        self.cleared = 0

    def add_row(
        self,
        *cells: Text,
        height: int | None = 1,
        key: str | None = None,
        label: Text | str | None = None,
    ) -> RowKey:
        self.added.append(key)
        return super().add_row(*cells, height=height, key=key, label=label)

    def remove_row(self, row_key: RowKey | str) -> None:
        self.removed.append(row_key)
        super().remove_row(row_key)

    def clear(self, columns: bool = False) -> Counted:
        self.cleared += 1
        return super().clear(columns)


class CountedHost(App[None]):
    def compose(self) -> ComposeResult:
        yield Counted()


async def test_only_the_rows_that_came_or_went_are_added_or_removed() -> None:
    app = CountedHost()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Counted)
        table.set_rows(rows("a", "b", "c"))
        await pilot.pause()
        table.added.clear()
        table.set_rows([("n", (Text("n"),)), ("a", (Text("a2"),)), ("c", (Text("c"),))])
        await pilot.pause()
        assert table.added == ["n"] and table.removed == ["b"] and table.cleared == 0
        assert [k for k, _ in table._rows] == ["n", "a", "c"]
        assert str(table.get_row("a")[0]) == "a2"


async def test_sort_and_filter_keep_child_rows_under_their_parent() -> None:
    app = Host()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Rows)
        table.set_rows(rows("zeta", "zeta/leg", "alpha", "alpha/leg"))
        table.action_cycle_sort()
        await pilot.pause()
        assert [k for k, _ in table._rows] == ["alpha", "alpha/leg", "zeta", "zeta/leg"]
        table.set_filter("zeta")
        assert [k for k, _ in table._rows] == ["zeta", "zeta/leg"]
