"""A table's cells name their row by key in their click meta (a drawn row stays valid when
rows above it come or go). Keys come from strategies (intent ids) and the venue (symbols): a
key that reads like a row index must still select its own row, never the row at that index
or the header."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from console.tui.widgets.row_patched_table import RowPatchedTable


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield RowPatchedTable(id="table", zebra_stripes=True, cursor_type="row")


async def test_a_key_that_reads_as_an_index_selects_its_own_row() -> None:
    app = OneTable()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(RowPatchedTable)
        table.styles.height = 12
        table.add_column("Intent", key="intent", width=12)
        for key in ("3", "-1", "0", "1", "2"):  # intent ids are [A-Za-z0-9][...]; "-1" as a symbol
            table.add_row(Text(f"row {key}"), key=key)
        await pilot.pause()
        for line, key in enumerate(("3", "-1", "0", "1", "2")):
            await pilot.click(table, offset=(2, 1 + line))  # below the header
            assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == key
            assert table.cursor_row == line
            await pilot.hover(table, offset=(2, 1 + line))
            await pilot.pause()
            assert table.hover_coordinate.row == line
        await pilot.click(table, offset=(2, 0))  # the header: no row is selected by it
        assert table.cursor_row == 4
