"""An order event is painted at once, in one frame; price ticks and look-alike snapshots are not."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult

from console.tui.app import DeskgateApp
from console.tui.messages import EngineChanged
from console.tui.screens.main import MainScreen
from console.tui.screens.paint import FramePainter
from console.tui.widgets.account import AccountStrip
from console.tui.widgets.evidence import EvidencePanel
from console.tui.widgets.row_patched_table import RowPatchedTable
from console.tui.widgets.status_bar import StatusBar
from console.tui.widgets.tables import OrdersTable
from contracts.enums import LifecycleState, Mode
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.fakes import FakeEngine


class Frames:
    """Every frame the app hands its driver, as text, and whether `FramePainter` drew it."""

    def __init__(self, app: DeskgateApp, painter: FramePainter) -> None:
        self.drawn: list[tuple[bool, str]] = []
        self.painting = False
        display, paint = app._display, painter.paint

        def recording_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None and hasattr(renderable, "render_segments"):
                self.drawn.append((self.painting, renderable.render_segments(app.console)))

        def flagged_paint() -> None:
            self.painting = True
            try:
                paint()
            finally:
                self.painting = False

        app._display = recording_display  # type: ignore[method-assign]
        painter.paint = flagged_paint  # type: ignore[method-assign]


def main_screen(app: DeskgateApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


async def open_orders(pilot: Any, app: DeskgateApp) -> OrdersTable:
    await wait_for(pilot, lambda: on_screen(app))
    await pilot.press("3")  # the Orders panel beside the approvals (120x40: split layout)
    table = app.screen.query_one(OrdersTable)
    await wait_for(pilot, lambda: table.region.height > 0)
    return table


async def test_a_new_order_is_in_the_frame_painted_at_once(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    engine.started = False
    app = DeskgateApp(engine, config=engine.config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_orders(pilot, app)
        painter = main_screen(app).painter
        frames = Frames(app, painter)
        requested = painter.requested
        engine.add_order("paint-0001", LifecycleState.SUBMITTED, limit="123.45")
        engine.publish("order")
        await wait_for(pilot, lambda: "paint-0001" in table._order)
        await wait_for(pilot, lambda: any(at_once for at_once, _ in frames.drawn))
        assert painter.requested == requested + 1  # one order event: one frame asked for
        painted = [text for at_once, text in frames.drawn if at_once]
        assert "123.45" in painted[0]  # that frame already holds the row


async def test_price_ticks_do_not_paint_at_once(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    engine.started = False
    engine.add_order("paint-0002", LifecycleState.SUBMITTED, limit="99.10")
    app = DeskgateApp(engine, config=engine.config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_orders(pilot, app)
        await wait_for(pilot, lambda: "paint-0002" in table._order)
        painter = main_screen(app).painter
        requested, changes = painter.requested, table.changes
        for step in range(5):
            await refreshed_after(pilot, app, partial(set_quote, engine, step))
        assert (painter.requested, table.changes) == (requested, changes)


def set_quote(engine: FakeEngine, step: int) -> None:
    engine.set_quote("AAPL", f"187.{10 + step}", f"187.{20 + step}")


async def refreshed_after(pilot: Any, app: DeskgateApp, change: Callable[[], None]) -> None:
    """`change()` the engine, then wait until the app took a new snapshot."""
    before = app.snapshot
    change()
    await wait_for(pilot, lambda: app.snapshot is not before)


class Bars(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar(stale_threshold_s=60, id="status")
        yield AccountStrip(id="account")


async def test_a_snapshot_that_reads_the_same_does_not_redraw_the_bars(
    fake_engine: FakeEngine,
) -> None:
    app = Bars()
    fake_engine.started = True
    async with app.run_test(size=(120, 5)) as pilot:
        status, account = app.query_one(StatusBar), app.query_one(AccountStrip)
        snapshot, now = fake_engine.snapshot(), fake_engine.clock.now()
        status.show(snapshot, now, "", Mode.SIM)
        account.show(snapshot)
        await pilot.pause()
        redrawn: list[str] = []
        for widget in (status, account):
            refresh = widget.refresh

            def counting_refresh(*args: Any, _refresh: Any = refresh, **kwargs: Any) -> Any:
                redrawn.append("bar")
                return _refresh(*args, **kwargs)

            widget.refresh = counting_refresh  # type: ignore[method-assign]
        later = replace(snapshot, audit_tail=(), taken_at=now)  # nothing either bar shows
        status.show(later, now, "", Mode.SIM)
        account.show(later)
        assert redrawn == []
        status.show(replace(later, trades_today=later.trades_today + 1), now, "", Mode.SIM)
        assert redrawn == ["bar"]  # what it shows changed: drawn again


async def test_order_events_in_a_burst_ask_for_one_frame_at_once(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    engine.started = False
    app = DeskgateApp(engine, config=engine.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_orders(pilot, app)
        painter = main_screen(app).painter
        painter.request()
        requested = painter.requested
        assert not painter.request()  # within a frame of the last: the update timer paints it
        assert painter.requested == requested


async def test_a_timer_tick_waits_for_the_queued_frame(clock: ManualClock) -> None:
    """The screen's update timer does not draw while a PaintNow is queued (it would draw a
    change half done, then PaintNow would draw it again)."""
    engine = scenarios.with_pending(clock)
    engine.started = False
    app = DeskgateApp(engine, config=engine.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_orders(pilot, app)
        screen = main_screen(app)
        frames = Frames(app, screen.painter)
        await pilot.pause()
        drawn = len(frames.drawn)
        assert screen.painter.request()
        screen.refresh()  # something to draw
        screen._on_timer_update()  # the timer's tick, before the screen handled PaintNow
        assert len(frames.drawn) == drawn
        await wait_for(pilot, lambda: len(frames.drawn) > drawn)
        assert frames.drawn[drawn][0]  # the frame came from the PaintNow


def approve_noting_app(seen: list[str]) -> tuple[ManualClock, DeskgateApp]:
    """An app whose engine notes 'approve' in `seen` when an approve reaches it."""
    clock = ManualClock()
    engine = scenarios.with_pending(clock)
    engine.started = False
    approve = engine.approve

    async def approve_noted(intent_id: str, token: str) -> Any:
        seen.append("approve")
        return await approve(intent_id, token)

    engine.approve = approve_noted  # type: ignore[method-assign]
    return clock, DeskgateApp(engine, config=engine.config)


async def test_the_approve_reaches_the_engine_before_the_console_redraws_its_state() -> None:
    """A keystroke's order leaves first; the console's own state (the greyed approve, the
    message line) is rebuilt after it, not in front of the order, and so is a price frame's
    refresh that reached the console's queue just behind the key (it ran first: about 5 ms
    on a busy screen)."""
    seen: list[str] = []
    clock, app = approve_noting_app(seen)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.pause()
        clock.advance(1.0)  # the headline has been read for the dwell time
        refresh, render = app._refresh_from_engine, app._render_state

        def refresh_noted() -> None:
            seen.append("refresh")
            refresh()

        def render_noted() -> None:
            seen.append("render")
            render()

        app._refresh_from_engine = refresh_noted  # type: ignore[method-assign]
        app._render_state = render_noted  # type: ignore[method-assign]
        key = app.keymap["approve"].split(",")[0].strip()
        app.post_message(events.Key(key, key))
        app.post_message(EngineChanged(frozenset({"price"})))  # queued behind the key
        await wait_for(pilot, lambda: "approve" in seen and "refresh" in seen)
    assert seen[0] == "approve", seen  # old code: refresh, approve


def last_trade_app(clock: ManualClock) -> tuple[FakeEngine, DeskgateApp]:
    """One trade waiting: approving it empties the queue (the approvals column re-arranges)."""
    engine = scenarios.with_pending(clock)
    del engine.pending[1:]
    engine.started = False
    return engine, DeskgateApp(engine, config=engine.config)


def approve_in_one_event(engine: FakeEngine) -> None:
    """What the engine's approve does in one step: the trade leaves the queue, its order is
    sent; one event carries both."""
    engine.pending.clear()
    engine.add_order("orb-aapl-03", LifecycleState.SUBMITTED, limit="187.03")
    engine.publish("approved")


async def test_the_approved_orders_row_is_painted_before_the_approvals_column_rearranges(
    clock: ManualClock,
) -> None:
    engine, app = last_trade_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_orders(pilot, app)
        screen = main_screen(app)
        evidence = screen.query_one(EvidencePanel)
        assert evidence.display
        frames = Frames(app, screen.painter)
        evidence_at_paint: list[bool] = []
        paint = screen.painter.paint

        def noting_paint() -> None:
            evidence_at_paint.append(evidence.display)
            paint()

        screen.painter.paint = noting_paint  # type: ignore[method-assign]
        await pilot.pause()
        frames.drawn.clear()
        approve_in_one_event(engine)
        await wait_for(pilot, lambda: "orb-aapl-03" in table._order)
        await wait_for(pilot, lambda: any(at_once for at_once, _ in frames.drawn))
        await wait_for(pilot, lambda: not evidence.display)  # the column follows
        painted = [text for at_once, text in frames.drawn if at_once]
        assert "187.03" in painted[0]  # the row's frame ...
        assert evidence_at_paint[0]  # ... is drawn before the column re-arranges (a re-layout)


async def test_within_a_frame_of_the_last_the_row_still_goes_before_the_column(
    clock: ManualClock,
) -> None:
    engine, app = last_trade_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_orders(pilot, app)
        screen = main_screen(app)
        evidence = screen.query_one(EvidencePanel)
        drawn: list[tuple[str, bool]] = []
        display = app._display

        def recording_display(on: Any, renderable: Any) -> None:
            display(on, renderable)
            if renderable is not None and hasattr(renderable, "render_segments"):
                drawn.append((renderable.render_segments(app.console), evidence.display))

        app._display = recording_display  # type: ignore[method-assign]
        await pilot.pause()
        drawn.clear()
        screen.painter._last_request = time.monotonic()  # a frame was just asked for
        approve_in_one_event(engine)
        await wait_for(pilot, lambda: "orb-aapl-03" in table._order)
        await wait_for(pilot, lambda: not evidence.display)
        await wait_for(pilot, lambda: any("187.03" in text for text, _ in drawn))
        first_with_row = next(shown for text, shown in drawn if "187.03" in text)
        assert first_with_row  # the timer's frame drew the row before the column re-arranged


async def test_a_row_added_to_a_table_that_fills_its_panel_lays_nothing_out(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_pending(clock)
    engine.started = False
    app = DeskgateApp(engine, config=engine.config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_orders(pilot, app)
        await pilot.pause()
        layouts: list[bool] = []
        refresh = table.refresh

        def noting_refresh(*regions: Any, **flags: Any) -> Any:
            layouts.append(bool(flags.get("layout")))
            return refresh(*regions, **flags)

        table.refresh = noting_refresh  # type: ignore[method-assign]
        engine.add_order("paint-0002", LifecycleState.SUBMITTED, limit="123.46")
        engine.publish("order")
        await wait_for(pilot, lambda: "paint-0002" in table._order)
        await pilot.pause()
        assert layouts and not any(layouts)  # repainted, never a re-layout of the screen


class GrowingTable(App[None]):
    """A row-patched table of auto height: its box grows with its rows."""

    def compose(self) -> ComposeResult:
        table: RowPatchedTable = RowPatchedTable()
        table.add_column("n", key="n")
        yield table


async def test_a_table_that_grows_with_its_rows_still_lays_the_screen_out() -> None:
    app = GrowingTable()
    async with app.run_test(size=(40, 20)) as pilot:
        table = app.query_one(RowPatchedTable)
        await pilot.pause()
        height = table.region.height
        table.add_row(Text("1"), key="1")
        table.add_row(Text("2"), key="2")
        await wait_for(pilot, lambda: table.region.height == height + 2)
