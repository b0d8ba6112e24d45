"""Table redraws cost what changed: a row added on top lays out its own cells, not the table's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.scrollbar import ScrollBar
from textual.widgets import DataTable

from console.tui.widgets.row_patched_table import RowPatchedTable
from console.tui.widgets.tables import OrdersTable
from contracts.enums import LifecycleState, OrderLeg, OrderType, Side
from engine.view import LegView, OrderView

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def order(number: int, since: datetime) -> OrderView:
    return OrderView(
        intent_id=f"ord-{number:04d}",
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        requested=D("10"),
        filled=D("0"),
        state=LifecycleState.SUBMITTED,
        state_since=since,
        limit_price=D("187.20"),
    )


class OneOrdersTable(App[None]):
    def compose(self) -> ComposeResult:
        yield OrdersTable(id="orders")


async def test_an_order_added_on_top_of_30_lays_out_only_its_own_cells() -> None:
    app = OneOrdersTable()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(OrdersTable)
        book = [order(n, START - timedelta(seconds=n)) for n in range(30)]
        now = START + timedelta(seconds=60)  # the clock stands still: no age re-worded
        table.show(tuple(book), now)
        await pilot.pause()
        await pilot.pause()  # every row painted once
        layouts: list[object] = []
        render_lines = app.console.render_lines

        def counting_render_lines(renderable: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(renderable, Text):  # a cell (a Text is laid out inside one)
                layouts.append(renderable)
            return render_lines(renderable, *args, **kwargs)

        app.console.render_lines = counting_render_lines  # type: ignore[method-assign]
        for added in range(3):
            layouts.clear()
            book.insert(0, order(100 + added, START + timedelta(seconds=added)))
            table.show(tuple(book), now)
            await pilot.pause()
            await pilot.pause()
            assert table._order[0] == f"ord-{100 + added:04d}"
            # The new row's 9 cells; the 30 rows below only moved (old code: ~280 cells).
            assert len(layouts) <= len(OrdersTable.COLUMNS) + 2


class TwoTables(App[None]):
    def compose(self) -> ComposeResult:
        yield RowPatchedTable(id="cached", zebra_stripes=True, cursor_type="row")
        yield DataTable(id="plain", zebra_stripes=True, cursor_type="row")


def segments(table: DataTable[Any]) -> list[list[Segment]]:
    """Every line as drawn: text, colours and the click-to-row meta of each segment (the
    cached table names a row by its key there, read here as the row's index)."""

    def row_index(segment: Segment) -> Segment:
        row = segment.style.meta.get("row") if segment.style else None
        if not isinstance(row, str):
            return segment
        index = Style.from_meta({"row": table.get_row_index(row)})
        return Segment(segment.text, segment.style + index if segment.style else None)

    return [[row_index(s) for s in table.render_line(y)] for y in range(table.size.height)]


def three_columns(table: DataTable[Any]) -> None:
    """Key, Px and Note, 18 lines tall."""
    table.styles.height = 18
    for label, width in (("Key", 8), ("Px", 8), ("Note", 16)):
        table.add_column(label, key=label.lower(), width=width)


def show(table: DataTable[Any], keys: list[str]) -> None:
    """Rows `keys` in that order: the rows held stay (cells cached), the rest come and go."""
    held = [str(row.key.value) for row in table.ordered_rows]
    for key in held:
        if key not in keys:
            table.remove_row(key)
    for key in keys:
        if key in held:
            continue
        tall = key.endswith("x")  # wrapped text: the row's height comes from its content
        note = f"{key} " + "wraps " * 6 if tall else key
        table.add_row(
            Text(key, style="dim"),
            Text("187.20", justify="right"),
            Text(note, style="bold #87afd7"),
            key=key,
            height=None if tall else 1,
        )
    position = {key: index for index, key in enumerate(keys)}
    table.sort(key=lambda values: position[values[0].plain])


async def test_rows_drawn_from_cached_cells_look_like_datatables_own() -> None:
    app = TwoTables()
    async with app.run_test(size=(60, 40)) as pilot:
        cached = app.query_one("#cached", RowPatchedTable)
        plain = app.query_one("#plain", DataTable)
        both = (cached, plain)
        for table in both:
            three_columns(table)
        keys = [f"row-{n}" for n in range(12)]
        app.set_focus(None)
        for shown in (
            keys,
            ["row-new", *keys],  # one on top: every stripe and row index moves
            ["row-new", *keys[3:]],  # some gone from the middle
            ["row-top", "row-3x", "row-new", *keys[4:]],  # a tall row among them
        ):
            for table in both:
                show(table, shown)
                table.move_cursor(row=2, animate=False)
            await pilot.pause()
            await pilot.pause()
            assert segments(cached) == segments(plain)
        for table in both:
            table._set_hover_cursor(True)
            table.hover_coordinate = table.cursor_coordinate.down()
        await pilot.pause()
        assert segments(cached) == segments(plain)
        cached.patch_cell("row-new", "px", Text("188.00", justify="right"))
        plain.update_cell("row-new", "px", Text("188.00", justify="right"))
        await pilot.pause()
        assert segments(cached) == segments(plain)


async def test_a_click_selects_the_row_under_it_after_rows_moved() -> None:
    app = TwoTables()
    async with app.run_test(size=(60, 40)) as pilot:
        cached = app.query_one("#cached", RowPatchedTable)
        three_columns(cached)
        keys = [f"row-{n}" for n in range(12)]
        show(cached, keys)
        await pilot.pause()
        segments(cached)  # every row drawn (and cached) at its first place
        show(cached, ["row-new", *keys])  # every row one line lower
        await pilot.pause()
        await pilot.click(cached, offset=(2, 1 + 5))  # below the header: the 6th row
        assert cached.cursor_row == 5
        assert cached.coordinate_to_cell_key(cached.cursor_coordinate).row_key.value == "row-4"
        await pilot.hover(cached, offset=(2, 1 + 3))  # the mouse over the 4th row
        await pilot.pause()
        assert cached.hover_coordinate.row == 3


async def test_a_new_order_is_laid_out_in_the_update_that_adds_it() -> None:
    """Not when the table next goes idle: under a stream of price frames that came as late as
    the next second's tick, and the order was in the table but not on screen."""
    app = OneOrdersTable()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(OrdersTable)
        now = START + timedelta(seconds=60)
        table.show((order(1, START),), now)
        await pilot.pause()
        height = table.virtual_size.height
        table.show((order(2, START), order(1, START)), now)  # no pause: the same update
        assert table.virtual_size.height == height + 1
        assert table.get_row_index("ord-0002") == 0


async def test_a_patched_value_wider_than_its_column_widens_it() -> None:
    """A leg's WORKING became CANCELLED (a kill): the column had been measured for WORKING and
    the patched word was cut to CANCELLE."""
    app = OneOrdersTable()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(OrdersTable)
        legs = (
            LegView(OrderLeg.STOP_LOSS, D("186.90"), D(0), None),
            LegView(OrderLeg.TAKE_PROFIT, D("188.10"), D(0), None),
        )
        managed = replace(order(1, START), state=LifecycleState.MANAGED, filled=D("10"), legs=legs)
        table.show((managed,), START)
        await pilot.pause()

        def text() -> str:
            return "\n".join(
                "".join(s.text for s in table.render_line(y)) for y in range(table.size.height)
            )

        assert text().count("WORKING") == 2
        table.show((replace(managed, state=LifecycleState.FILLED),), START)
        await pilot.pause()
        assert text().count("CANCELLED") == 2, text()


async def test_rows_moved_by_a_new_row_on_top_are_drawn_from_cache() -> None:
    """A row's drawing is kept by its key, stripe and cursor, not its line: an approve that
    puts a new order on top redraws the new row and the one the cursor left (every row was
    drawn again, a third of the approve frame)."""
    app = TwoTables()
    async with app.run_test(size=(60, 40)) as pilot:
        table = app.query_one("#cached", RowPatchedTable)
        three_columns(table)
        keys = [f"row-{n}" for n in range(12)]
        drawn = rows_drawn(table)
        shown = keys
        for new in ("new-1", "new-2"):  # every stripe flips, then flips back
            show(table, shown)
            table.move_cursor(row=0, animate=False)
            await pilot.pause()
            segments(table)
            shown = [new, *shown]
        drawn.clear()
        show(table, shown)
        table.move_cursor(row=0, animate=False)
        await pilot.pause()
        segments(table)
        # The new row, the row the cursor left, and the one it had left before (not yet drawn
        # without the cursor on its stripe); the nine rows below come from the cache.
        assert sorted(set(drawn)) == ["new-1", "new-2", "row-0"]
        table.remove_row("row-3")  # a key that comes back with other cells is drawn anew
        table.add_row(Text("row-3"), Text("999.99"), Text("back"), key="row-3")
        await pilot.pause()
        assert any("999.99" in "".join(s.text for s in line) for line in segments(table))


async def test_a_new_row_lays_out_only_the_texts_no_row_above_shows() -> None:
    app = OneOrdersTable()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(OrdersTable)
        now = START + timedelta(seconds=60)
        book = [order(n, START) for n in range(5)]  # same state, age, symbol, price...
        table.show(tuple(book), now)
        await pilot.pause()
        await pilot.pause()
        layouts: list[object] = []
        render_lines = app.console.render_lines

        def counting_render_lines(renderable: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(renderable, Text):
                layouts.append(renderable)
            return render_lines(renderable, *args, **kwargs)

        app.console.render_lines = counting_render_lines  # type: ignore[method-assign]
        book.insert(0, order(100, START))  # ...all but its intent id
        table.show(tuple(book), now)
        await pilot.pause()
        await pilot.pause()
        assert table._order[0] == "ord-0100"
        assert len(layouts) == 1  # old code: all 9 of its cells


async def test_texts_that_read_alike_but_look_different_are_laid_out_apart() -> None:
    """The same characters with another justification, style, overflow or wrap."""
    app = TwoTables()
    async with app.run_test(size=(60, 40)) as pilot:
        cached = app.query_one("#cached", RowPatchedTable)
        plain = app.query_one("#plain", DataTable)
        alike = [
            Text("187.20", justify="right"),
            Text("187.20"),
            Text("187.20", justify="center"),
            Text("187.20", style="bold"),
            Text.assemble(("187", "red"), ".20"),
            Text("187.20 and a long tail", overflow="ellipsis"),
            Text("187.20 and a long tail", overflow="crop"),
            Text("187.20 and a long tail"),
        ]
        for table in (cached, plain):
            three_columns(table)
            for n, px in enumerate(alike):
                table.add_row(Text(f"k{n}"), px.copy(), Text("note"), key=f"k{n}")
        app.set_focus(None)
        await pilot.pause()
        await pilot.pause()
        assert segments(cached) == segments(plain)


class NarrowTable(App[None]):
    CSS = "RowPatchedTable { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield RowPatchedTable(id="cached", cursor_type="row")


async def test_a_row_added_repaints_only_the_scrollbar_whose_sizes_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[str] = []
    render = ScrollBar.render

    def counted(bar: ScrollBar) -> Any:
        drawn.append("vertical" if bar.vertical else "horizontal")
        return render(bar)

    monkeypatch.setattr(ScrollBar, "render", counted)
    app = NarrowTable()
    async with app.run_test(size=(30, 12)) as pilot:
        table = app.query_one(RowPatchedTable)
        table.add_column("Key", key="key")
        table.add_column("Note", key="note")
        for n in range(3):
            table.add_row(Text(f"k{n}"), Text("a note wider than the screen is"), key=f"k{n}")
        await pilot.pause()
        await pilot.pause()
        assert table.show_horizontal_scrollbar and not table.show_vertical_scrollbar
        drawn.clear()
        table.add_row(Text("k3"), Text("as wide"), key="k3")  # taller, not wider
        await pilot.pause()
        await pilot.pause()
        assert drawn == []  # old code: the horizontal bar, unchanged
        table.add_row(Text("k4"), Text("a note wider than the screen is, wider"), key="k4")
        await pilot.pause()
        await pilot.pause()
        assert drawn.count("horizontal") == 1  # its thumb shrank
        for n in range(5, 12):  # past the bottom: the vertical bar appears
            table.add_row(Text(f"k{n}"), Text("x"), key=f"k{n}")
        await pilot.pause()
        await pilot.pause()
        assert table.show_vertical_scrollbar
        drawn.clear()
        table.add_row(Text("k12"), Text("x"), key="k12")
        await pilot.pause()
        await pilot.pause()
        assert drawn == ["vertical"]  # its thumb shrank; the horizontal did not change
        assert table.max_scroll_y > 0


async def test_a_scrolled_table_with_a_fixed_row_draws_datatables_lines() -> None:
    app = TwoTables()
    async with app.run_test(size=(60, 40)) as pilot:
        cached = app.query_one("#cached", RowPatchedTable)
        plain = app.query_one("#plain", DataTable)
        for table in (cached, plain):
            three_columns(table)
            show(table, [f"row-{n}" for n in range(30)])
        app.set_focus(None)
        await pilot.pause()
        for fixed in (0, 1):
            for table in (cached, plain):
                table.fixed_rows = fixed
                table.scroll_to(y=7, animate=False)
            await pilot.pause()
            await pilot.pause()
            assert cached.scroll_offset == plain.scroll_offset != (0, 0)
            assert drawn(cached) == drawn(plain)


def drawn(table: DataTable[Any]) -> list[str]:
    """The lines a frame draws (`render_lines`, as the compositor asks), as text."""
    region = Region(0, 0, table.size.width, table.size.height)
    return ["".join(s.text for s in strip) for strip in table.render_lines(region)]


async def test_rows_a_scroll_keeps_in_view_are_drawn_from_cache() -> None:
    """A row's drawn line does not depend on how far the table is scrolled down: a scroll by
    a line draws the one row it brings into view, not the rows that only moved (a horizontal
    scroll does cut every line differently)."""
    app = TwoTables()
    async with app.run_test(size=(60, 40)) as pilot:
        table = app.query_one("#cached", RowPatchedTable)
        three_columns(table)
        show(table, [f"row-{n}" for n in range(40)])
        app.set_focus(None)
        await pilot.pause()
        assert any("row-1 " in line for line in drawn_text(table))
        drawn = rows_drawn(table)
        table.scroll_to(y=1, animate=False)
        await pilot.pause()
        lines = drawn_text(table)
        assert not any("row-0 " in line for line in lines)
        bottom = next(line for line in reversed(lines) if "row-" in line).split()[0]
        assert set(drawn) == {bottom}


def rows_drawn(table: RowPatchedTable) -> list[str]:
    """The keys of the rows the table draws afresh from now on (not from its cache)."""
    drawn: list[str] = []
    draw_row = table._render_line_in_row

    def counting_draw_row(row_key: Any, *args: Any) -> Any:
        drawn.append(str(row_key.value))
        return draw_row(row_key, *args)

    table._render_line_in_row = counting_draw_row  # type: ignore[method-assign]
    return drawn


def drawn_text(table: DataTable[Any]) -> list[str]:
    """The lines a frame draws (`render_lines`, as the compositor asks), as text."""
    region = Region(0, 0, table.size.width, table.size.height)
    return ["".join(s.text for s in strip) for strip in table.render_lines(region)]
