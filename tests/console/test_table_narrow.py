"""A table narrower than its columns draws only what is in view, and looks like DataTable's."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from console.tui.widgets.row_patched_table import RowPatchedTable
from tests.console.test_table_render_cache import segments, show


class NarrowTables(App[None]):
    CSS = "DataTable { width: 30; height: 14; }"

    def compose(self) -> ComposeResult:
        yield RowPatchedTable(id="cached", zebra_stripes=True, cursor_type="row")
        yield DataTable(id="plain", zebra_stripes=True, cursor_type="row")


async def test_columns_out_of_view_are_not_drawn_and_the_view_looks_the_same() -> None:
    app = NarrowTables()
    async with app.run_test(size=(80, 40)) as pilot:
        cached = app.query_one("#cached", RowPatchedTable)
        plain = app.query_one("#plain", DataTable)
        both: tuple[DataTable[Any], ...] = (cached, plain)
        drawn: list[tuple[int, int]] = []
        render_cell = cached._render_cell

        def counting_render_cell(row: int, column: int, *args: Any, **kwargs: Any) -> Any:
            drawn.append((row, column))
            return render_cell(row, column, *args, **kwargs)

        cached._render_cell = counting_render_cell  # type: ignore[method-assign,assignment]
        for table in both:
            for label, width in (("Key", 8), ("Px", 8), ("Note", 16), ("Far", 10)):
                table.add_column(label, key=label.lower(), width=width)
            show(table, [f"row-{n}" for n in range(10)])
        app.set_focus(None)  # neither has the focus (its header and cursor would differ)
        await pilot.pause()
        assert segments(cached) == segments(plain)
        assert drawn and {column for _, column in drawn} <= {0, 1, 2}  # "Far" starts at 34
        for table in both:
            table.scroll_to(x=20, animate=False, immediate=True)
        await pilot.pause()
        assert cached.scroll_x == plain.scroll_x == 20  # the far end
        assert segments(cached) == segments(plain)
        cached.patch_cell("row-3", "far", Text("far away", style="bold"))
        plain.update_cell("row-3", "far", Text("far away", style="bold"))
        await pilot.pause()
        assert segments(cached) == segments(plain)
