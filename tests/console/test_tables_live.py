"""The console's lists on a busy day: hidden panels wait, orders with their style and legs, the
order history, the fills blotter, `/` filter and `s` sort, audit paging, wrapped alerts."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from textual.widgets.data_table import RowKey

from console.tui.app import DeskgateApp
from console.tui.screens.main import MainScreen
from console.tui.screens.modals import KillConfirmScreen
from console.tui.screens.views import AuditScreen
from console.tui.widgets.fills import FillsTable
from console.tui.widgets.snapshot_table import TableFilter
from console.tui.widgets.tables import (
    AlertsTable,
    AuditTable,
    OrdersTable,
    PositionsTable,
    SnapshotTable,
)
from contracts.enums import LifecycleState, TradingState
from engine.clock import ManualClock
from engine.view import PositionView
from tests.console.conftest import plain, wait_for
from tests.console.desk_day import AUDIT_BEADS, LONG_REASON, busy_day
from tests.console.fakes import FakeEngine
from tests.console.test_app import app_for, started


def keys(table: SnapshotTable) -> list[str]:
    return [key for key, _ in table._rows]


def row_text(table: SnapshotTable, key: str) -> str:
    return " ".join(str(cell) for cell in table.get_row(key))


def main(app: DeskgateApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def test_a_hidden_panel_is_not_touched_until_it_is_shown(clock: ManualClock) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:  # split: approvals + Positions
        await started(pilot, app)
        orders = main(app).query_one(OrdersTable)
        assert orders.row_count == 0, "the Orders panel is hidden: nothing was put in it"
        await pilot.press("3")
        await wait_for(pilot, lambda: "twap-aapl-03" in keys(orders))
        await pilot.press("2")  # Orders hidden again
        engine.add_order("late-amd-04", LifecycleState.SUBMITTED, symbol="AMD")
        engine.publish("order")
        await wait_for(pilot, lambda: "late-amd-04" in str(app.snapshot))
        await pilot.pause()
        assert "late-amd-04" not in keys(orders)
        await pilot.press("3")
        assert "late-amd-04" in keys(orders), "shown at once when the panel comes into view"


async def test_an_order_update_changes_cells_in_place_never_rebuilding_the_table(
    clock: ManualClock,
) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3")
        orders = main(app).query_one(OrdersTable)
        await wait_for(pilot, lambda: "twap-aapl-03" in keys(orders))
        rows_before = dict(orders.rows)
        cleared: list[bool] = []

        def counted_clear(columns: bool = False) -> OrdersTable:
            cleared.append(columns)
            return orders

        orders.clear = counted_clear  # type: ignore[method-assign]
        index = next(i for i, o in enumerate(engine.orders) if o.intent_id == "twap-aapl-03")
        engine.orders[index] = replace(engine.orders[index], filled=engine.orders[index].filled + 6)
        engine.publish("fill")
        await wait_for(pilot, lambda: "18/30" in row_text(orders, "twap-aapl-03"))
        assert not cleared
        for key, row in rows_before.items():  # the same Row objects: updated, not re-added
            assert orders.rows[key] is row


async def test_live_orders_show_style_progress_and_bracket_legs_under_their_parent(
    clock: ManualClock,
) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3")
        orders = main(app).query_one(OrdersTable)
        await wait_for(pilot, lambda: "twap-aapl-03" in keys(orders))
        shown = keys(orders)
        at = shown.index("twap-aapl-03")
        assert shown[at + 1 : at + 3] == ["twap-aapl-03/style", "twap-aapl-03/SL"]
        style = row_text(orders, "twap-aapl-03/style")
        assert "twap" in style and "3 steps" in style and "12/18" in style and "190.38" in style
        msft = shown.index("orb-msft-01")
        assert shown[msft + 1 : msft + 3] == ["orb-msft-01/SL", "orb-msft-01/TP"]
        assert "WORKING" in row_text(orders, "orb-msft-01/SL")  # the entry filled: exits work
        assert "ATTACHED" in row_text(orders, "twap-aapl-03/SL")  # waits for the entry
        assert "old-nvda-01" not in shown and "orb-tsla-00" not in shown  # finished: history
        orders.move_cursor(row=shown.index("orb-msft-01/TP"))
        assert main(app).selected_order() is not None  # a leg row selects its parent order
        assert main(app).selected_order().intent_id == "orb-msft-01"  # type: ignore[union-attr]


async def test_h_switches_the_orders_panel_to_the_finished_orders(clock: ManualClock) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3", "h")
        orders = main(app).query_one(OrdersTable)
        await wait_for(pilot, lambda: "old-nvda-01" in keys(orders))
        assert "orb-tsla-00" in keys(orders) and "twap-aapl-03" not in keys(orders)
        await wait_for(
            pilot, lambda: "history" in str(main(app).query_one("#p-orders").border_title)
        )
        engine.orders[-1] = replace(engine.orders[-1], state=LifecycleState.CLOSED)
        await pilot.press("h")
        await wait_for(pilot, lambda: "twap-aapl-03" in keys(orders))
        assert "old-nvda-01" not in keys(orders)
        await wait_for(
            pilot, lambda: "history" not in str(main(app).query_one("#p-orders").border_title)
        )


async def test_the_fills_blotter_lists_every_fill_newest_first(clock: ManualClock) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("8")
        fills = main(app).query_one(FillsTable)
        await wait_for(pilot, lambda: fills.row_count == len(engine.fills))
        newest = " ".join(str(c) for c in fills.get_row_at(0))
        assert "twap-aapl-03" in newest and "BUY" in newest and "190.38" in newest
        msft = " ".join(str(c) for c in fills.get_row_at(1))
        assert "30" in msft and "412.10" in msft and "-1.00" in msft and "-1t" in msft


async def test_slash_filters_a_table_and_typed_capitals_are_text_not_a_kill(
    clock: ManualClock,
) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3")
        orders = main(app).query_one(OrdersTable)
        await wait_for(pilot, lambda: "twap-aapl-03" in keys(orders))
        await pilot.press("slash", *"Kyle said no", "y")
        await pilot.pause()
        assert not isinstance(app.screen, KillConfirmScreen)
        assert engine.trading_state is TradingState.ACTIVE
        box = main(app).query_one(TableFilter)
        assert box.value == "Kyle said noy"
        assert orders.row_count == 0  # nothing matches
        await pilot.press(*["backspace"] * 13, *"AAPL")
        # the order matches; its style and leg rows stay under it
        await wait_for(
            pilot,
            lambda: keys(orders) == ["twap-aapl-03", "twap-aapl-03/style", "twap-aapl-03/SL"],
        )
        await pilot.press("enter")
        assert orders.has_focus and box.display  # the filter stays, the table has the keys
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert not main(app).query(TableFilter)
        assert "orb-msft-01" in keys(orders) and orders.has_focus
        assert engine.trading_state is TradingState.ACTIVE


async def test_s_cycles_the_sort_column_and_back_to_the_natural_order(clock: ManualClock) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("8")
        fills = main(app).query_one(FillsTable)
        await wait_for(pilot, lambda: fills.row_count == len(engine.fills))
        natural = keys(fills)
        await pilot.press("s", "s")  # Time, then Side
        sides = [str(fills.get_row_at(i)[1]) for i in range(fills.row_count)]
        assert sides == sorted(sides)
        assert "Side ▼" in str(fills.ordered_columns[1].label)
        await pilot.press("s")  # Qty: numbers largest first
        quantities = [int(str(fills.get_row_at(i)[2])) for i in range(fills.row_count)]
        assert quantities == sorted(quantities, reverse=True)
        await pilot.press(*["s"] * (len(FillsTable.COLUMNS) - 2))
        assert fills.sort_column is None and keys(fills) == natural


async def test_the_audit_screen_pages_through_the_whole_store_a_page_at_a_time(
    clock: ManualClock,
) -> None:
    engine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("l")
        assert isinstance(app.screen, AuditScreen)
        table = app.screen.query_one(AuditTable)

        def seqs() -> list[int]:
            return [int(key) for key in keys(table)]

        await wait_for(pilot, lambda: bool(seqs()) and seqs()[0] == AUDIT_BEADS)
        page = len(seqs())
        assert page < AUDIT_BEADS
        await pilot.press("pagedown")
        assert seqs()[0] == AUDIT_BEADS - page
        await pilot.press("pagedown", "pageup")
        assert seqs()[0] == AUDIT_BEADS - page
        await pilot.press("end")
        assert seqs()[-1] == 1
        await pilot.press("home")
        assert seqs()[0] == AUDIT_BEADS
        assert all(n <= page for _, n in engine.audit_pages_read)  # never the whole store
        engine.bead("FILL", None, "one more")
        engine.publish("bead")
        await wait_for(pilot, lambda: seqs()[0] == AUDIT_BEADS + 1)  # the newest page follows


async def test_alert_text_wraps_at_80_columns_and_is_never_cut(clock: ManualClock) -> None:
    engine: FakeEngine = busy_day(clock)
    app = app_for(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("6")
        alerts = main(app).query_one(AlertsTable)
        await wait_for(pilot, lambda: alerts.row_count == len(engine.alerts))
        key = RowKey(next(a.event_id for a in engine.alerts if a.message == LONG_REASON))
        await wait_for(pilot, lambda: alerts.rows[key].height > 1)  # wrapped over lines
        assert alerts.virtual_size.width <= alerts.size.width  # nothing off to the right
        assert LONG_REASON in plain(alerts.get_row(key)[1], width=400)


async def test_a_symbol_with_a_slash_is_its_own_position_row_when_sorted(
    clock: ManualClock,
) -> None:
    """Only the Orders panel has child rows (an intent id holds no '/'): BRK/B was kept under
    BRK as if it were one of its bracket legs, and sorted with it."""

    def position(symbol: str, quantity: int) -> PositionView:
        return PositionView(
            symbol=symbol,
            quantity=D(quantity),
            avg_price=D(100),
            last=D(100),
            unrealized_pnl=D(0),
            realized_pnl=D(0),
            fill_ratio=D(1),
        )

    engine = busy_day(clock)
    engine.positions[:] = [position("BRK", 5), position("BRK/B", 300), position("MSFT", 40)]
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("2")
        positions = main(app).query_one(PositionsTable)
        await wait_for(pilot, lambda: positions.row_count == 3)
        await pilot.press("s", "s")  # by quantity, largest first
        assert keys(positions) == ["BRK/B", "MSFT", "BRK"]  # old code: MSFT, BRK, BRK/B
