"""Work per frame: what an approve, a quote tick or a re-worded check costs the screen (counts)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import BindingsMap
from textual.content import Content
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.widgets import _data_table as data_table_module
from textual.widgets._footer import FooterKey

from console.tui import bus_feed
from console.tui.app import APPROVING_SHOWN_AFTER_S, DeskgateApp
from console.tui.messages import EngineChanged
from console.tui.screens.main import MainScreen
from console.tui.widgets.approvals import ApprovalQueue
from console.tui.widgets.chrome import DIM_AFTER_S, KeysFooter, MessageLine, PanelTabs
from console.tui.widgets.evidence import BODY_REWORD_S, EvidencePanel
from console.tui.widgets.laid_out import LaidOutStatic
from console.tui.widgets.quotes import QuotesPanel
from console.tui.widgets.row_patched_table import RowPatchedTable
from console.tui.widgets.tables import OrdersTable
from contracts.broker import Quote
from contracts.config import Config, ConsoleConfig, KeysConfig
from contracts.enums import LifecycleState, OrderType, Side
from contracts.events import CheckOutcome
from engine.clock import ManualClock
from engine.view import OrderView
from tests.console import scenarios
from tests.console.conftest import evidence_text, on_screen, read_headline, wait_for
from tests.console.fakes import FakeEngine


def app_for(engine: FakeEngine) -> DeskgateApp:
    engine.started = False  # the app starts it
    return DeskgateApp(engine, config=engine.config)


def approve_key(app: DeskgateApp) -> FooterKey:
    footer = app.screen.query_one(KeysFooter)
    return next(k for k in footer.query_children(FooterKey) if k.action == "approve")


async def test_approve_in_flight_dims_the_footer_key_without_rebuilding_the_footer(
    clock: ManualClock,
) -> None:
    """A slow approve: its key dims, and the message line says 'approving' until the answer."""
    engine = scenarios.with_pending(clock, command_delay=0.5)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await read_headline(pilot, clock)
        footer = app.screen.query_one(KeysFooter)
        line = app.screen.query_one(MessageLine)
        await wait_for(pilot, lambda: not approve_key(app).has_class("-disabled"))
        keys = list(footer.query_children(FooterKey))
        rebuilt = footer.recomposes
        approving_at: list[float] = []
        show = line.show_result

        def noting_show(command: str, ok: bool, message: str) -> None:
            if command == "approving":
                approving_at.append(time.monotonic())
            show(command, ok, message)

        line.show_result = noting_show  # type: ignore[method-assign]
        pressed = time.monotonic()
        await pilot.press("a")
        await wait_for(pilot, lambda: "approving" in str(line.text))
        # not at once: a quick answer would come first (timed, so a slow press cannot fail it)
        assert approving_at[0] - pressed >= APPROVING_SHOWN_AFTER_S
        await wait_for(pilot, lambda: approve_key(app).has_class("-disabled"))
        assert list(footer.query_children(FooterKey)) == keys  # the same widgets, dimmed
        await wait_for(pilot, lambda: any(o.intent_id == "orb-aapl-03" for o in engine.orders))
        await wait_for(pilot, lambda: not approve_key(app).has_class("-disabled"))
        assert footer.recomposes == rebuilt
        assert list(footer.query_children(FooterKey)) == keys
        await wait_for(pilot, lambda: "submitted" in str(line.text))


async def test_approve_rechecks_at_once_and_publishes_the_state_with_the_order(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await read_headline(pilot, clock)
        built: list[object] = []
        build = app._build_state

        def counting_build() -> Any:
            built.append(None)
            return build()

        app._build_state = counting_build  # type: ignore[method-assign]
        engine.command_delay = 0.3  # the approve's answer (and its redraw) comes later
        approving = asyncio.ensure_future(app.action_approve())
        assert built == [] and app.blocker is None
        await approving  # the approve's first step (it sends the order), the availability check
        assert app.blocker is not None  # in flight: approve is unavailable (the footer dims)
        assert built == []  # the screen's state waits for the order's own event
        await wait_for(pilot, lambda: ("approve", "orb-aapl-03", "tok-orb-aapl-03") in engine.calls)
        await wait_for(pilot, lambda: any(o.intent_id == "orb-aapl-03" for o in engine.orders))
        await wait_for(pilot, lambda: len(built) >= 1)


async def test_order_change_is_not_held_behind_the_quote_throttle(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_feed, "QUOTE_THROTTLE_S", 3600.0)  # a price hold never ends
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("3")
        engine.set_quote("AAPL", "187.02", "187.04")  # starts a price hold
        await wait_for(pilot, lambda: app.engine.quote("AAPL") is not None)
        await pilot.pause()
        engine.add_order("fresh-order-09", LifecycleState.SUBMITTED, symbol="AMD")
        engine.publish("order")
        table = app.screen.query_one(OrdersTable)
        await wait_for(pilot, lambda: any(k == "fresh-order-09" for k, _ in table._rows))


async def test_quote_burst_does_not_touch_the_orders_table(clock: ManualClock) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("3")
        table = app.screen.query_one(OrdersTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        await pilot.pause()
        updates = table._update_count
        repaints: list[object] = []
        refresh = table.refresh

        def counting_refresh(*regions: Any, **kwargs: Any) -> Any:
            repaints.append(regions)
            return refresh(*regions, **kwargs)

        table.refresh = counting_refresh  # type: ignore[method-assign]
        quotes = app.screen.query_one(QuotesPanel)
        for cents in range(50):
            engine.set_quote("AAPL", f"187.{cents:02d}", f"187.{cents + 1:02d}")
        await wait_for(pilot, lambda: "187.49" in "".join(c.plain for c in quotes._shown.values()))
        assert table._update_count == updates
        assert repaints == []


class TwoTables(App[None]):
    def compose(self) -> ComposeResult:
        yield QuotesPanel(id="patched")
        yield QuotesPanel(id="fresh")


def quote(symbol: str, bid: str, ask: str) -> Quote:
    return Quote(symbol=symbol, bid=D(bid), ask=D(ask), last=D(ask), ts=datetime.now(UTC))


def lines(table: RowPatchedTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_a_price_tick_repaints_one_row_and_shows_what_a_fresh_table_shows() -> None:
    app = TwoTables()
    async with app.run_test(size=(60, 20)) as pilot:
        patched = app.query_one("#patched", QuotesPanel)
        fresh = app.query_one("#fresh", QuotesPanel)
        book = {s: quote(s, "10.00", "10.02") for s in ("AAPL", "AMD", "MSFT")}
        patched.show(tuple(book.items()))
        await pilot.pause()
        lines(patched)  # every row rendered and cached
        updates = patched._update_count
        drawn: list[object] = []
        draw_row = patched._render_line_in_row

        def counting_draw_row(row_key: Any, *args: Any) -> Any:
            drawn.append(row_key.value)
            return draw_row(row_key, *args)

        patched._render_line_in_row = counting_draw_row  # type: ignore[method-assign]
        book["AMD"] = quote("AMD", "10.01", "10.05")
        patched.show(tuple(book.items()))
        assert patched._update_count == updates
        lines(patched)
        assert drawn == ["AMD"]  # the other rows' cached lines stay valid
        book["MSFT"] = quote("MSFT", "9.99", "10.02")  # another row, then the first again
        book["AMD"] = quote("AMD", "10.03", "10.05")
        patched.show(tuple(book.items()))
        fresh.first_last = dict(patched.first_last)  # Chg from the same first prices
        fresh.show(tuple(book.items()))
        await pilot.pause()
        assert lines(patched) == lines(fresh)
        assert "10.05" in lines(patched)[2]


def selected_shows(app: DeskgateApp, checks: tuple[CheckOutcome, ...]) -> Callable[[], bool]:
    return lambda: app.selected is not None and app.selected.checks == checks


async def test_reworded_checks_do_not_relayout_but_a_failing_check_shows_at_once(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        panel = app.screen.query_one(EvidencePanel)
        await pilot.pause()
        layouts: list[object] = []
        refresh = panel._body.refresh

        def counting_refresh(*regions: Any, layout: bool = False, **kwargs: Any) -> Any:
            if layout:
                layouts.append(regions)
            return refresh(*regions, layout=layout, **kwargs)

        panel._body.refresh = counting_refresh  # type: ignore[method-assign]
        queue = app.screen.query_one(ApprovalQueue)
        rebuilds: list[object] = []
        clear = queue.clear

        def counting_clear(*args: Any, **kwargs: Any) -> Any:
            rebuilds.append(args)
            return clear(*args, **kwargs)

        queue.clear = counting_clear  # type: ignore[method-assign]
        first = engine.pending[0]
        for age in range(5):  # the quote's age re-worded on every price
            checks = tuple(
                c.model_copy(update={"detail": f"quote {age}.{age}s old"})
                if c.name == first.checks[0].name
                else c
                for c in first.checks
            )
            engine.pending[0] = replace(first, checks=checks)
            engine.publish("quote")
            await wait_for(pilot, selected_shows(app, checks))
            await pilot.pause()
        assert layouts == []
        assert rebuilds == []  # the queue's rows read the same: not rebuilt
        failing = (
            CheckOutcome(name=first.checks[0].name, passed=False, detail="quote 99s old"),
            *first.checks[1:],
        )
        engine.pending[0] = replace(first, checks=failing)
        engine.publish("quote")  # the clock stands still: no re-wording window has passed
        await wait_for(pilot, lambda: "quote 99s old" in evidence_text(app))


class TwoOrderTables(App[None]):
    def compose(self) -> ComposeResult:
        yield OrdersTable(id="patched")
        yield OrdersTable(id="fresh")


def order(intent_id: str, state: LifecycleState, since: datetime, filled: str = "0") -> OrderView:
    return OrderView(
        intent_id=intent_id,
        symbol="AAPL",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        requested=D("10"),
        filled=D(filled),
        state=state,
        state_since=since,
        limit_price=D("187.20"),
    )


async def test_orders_patched_tick_by_tick_read_like_a_table_built_once() -> None:
    app = TwoOrderTables()
    async with app.run_test(size=(100, 30)) as pilot:
        patched = app.query_one("#patched", OrdersTable)
        fresh = app.query_one("#fresh", OrdersTable)
        start = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
        book = [order(f"ord-{n}", LifecycleState.SUBMITTED, start) for n in range(5)]
        for second in range(4):  # the time in state ticks; an order fills, one is added
            now = start + timedelta(seconds=second)
            if second == 2:
                book[1] = order("ord-1", LifecycleState.FILLED, now, filled="10")
            if second == 3:
                book.append(order("ord-new", LifecycleState.SUBMITTED, now))
            patched.show(tuple(book), now)
            await pilot.pause()
            lines(patched)  # rendered (and cached) between the ticks
        fresh.show(tuple(book), now)
        await pilot.pause()
        assert lines(patched) == lines(fresh)


async def test_the_evidence_body_is_laid_out_once_per_new_wording(clock: ManualClock) -> None:
    """The label grid was laid out twice per change (once to measure its height, once to
    draw it): a frame of about 10 ms that a keystroke waited behind, once a second while a
    trade waits."""
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.pause()
        layouts: list[object] = []
        lay_out = Table.__rich_console__

        def counting_lay_out(table: Table, *args: Any) -> Any:
            layouts.append(table)
            return lay_out(table, *args)

        first = engine.pending[0]
        checks = tuple(
            c.model_copy(update={"passed": False, "detail": "quote 7.7s old"}) if i == 0 else c
            for i, c in enumerate(first.checks)
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Table, "__rich_console__", counting_lay_out)
            clock.advance(BODY_REWORD_S)  # a new wording shows at most once a second
            engine.pending[0] = replace(first, checks=checks)
            engine.publish("quote")
            await wait_for(pilot, selected_shows(app, checks))
            await pilot.pause()
            await pilot.pause()  # drawn
            body = app.screen.query_one("#evidence-body")
            drawn = [body.render_line(y).text for y in range(body.size.height)]
        assert any("7.7s old" in line for line in drawn), drawn
        shown = app.screen.query_one(EvidencePanel)._body.source
        assert [table for table in layouts if table is shown] == [shown]


class Bars(App[None]):
    def compose(self) -> ComposeResult:
        yield PanelTabs(["Approvals", "Positions", "Orders"], ["Appr", "Pos", "Ord"], id="tabs")
        yield MessageLine(id="message")


def looks(strip: Any) -> list[tuple[object, ...]]:
    """A line's text and how it is coloured (not its mouse meta)."""

    def colour(color: Any) -> object:
        return None if color is None else (color.number, color.triplet)  # not its name

    return [
        (
            s.text,
            colour(s.style.color),
            colour(s.style.bgcolor),
            s.style.bold,
            s.style.dim,
            s.style.reverse,
        )
        for s in strip
    ]


async def test_one_line_bars_draw_textuals_line_without_its_content_pass() -> None:
    """The tab bar, the status bar and the message line cost about 1.5 ms each per frame in
    Textual's Content pass; drawn from Rich's segments they look the same."""
    app = Bars()
    async with app.run_test(size=(100, 5)) as pilot:
        tabs, message = app.query_one(PanelTabs), app.query_one(MessageLine)
        tabs.show(1, [0, 1, 2], {0: ("3", "bold yellow")})
        message.show_result("approve", True, "ord-1 sent")
        await pilot.pause()
        passes: list[object] = []
        content_pass = Content.from_rich_text

        def counting_pass(*args: Any, **kwargs: Any) -> Any:
            passes.append(args)
            return content_pass(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Content, "from_rich_text", counting_pass)
            tabs.show(2, [0, 1, 2], {0: ("2", "bold yellow")})  # an approve's frame
            message.show_result("approve", True, "ord-2 sent")
            drawn = [bar.render_line(0) for bar in (tabs, message)]
        assert passes == []
        for bar, line in zip((tabs, message), drawn, strict=True):
            assert looks(line) == looks(Widget.render_line(bar, 0))  # Textual's own pass


class TwoBlocks(App[None]):
    def compose(self) -> ComposeResult:
        yield LaidOutStatic(id="laid-out")
        yield Static(id="static")


async def test_a_laid_out_block_draws_what_a_static_draws_at_every_width() -> None:
    """Laid out once per change, the evidence grid must still follow the panel's width (a
    terminal resized, the layout switched to split or tiled)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold #87afd7", no_wrap=True, width=11)
    grid.add_column(ratio=1)
    grid.add_row("Sizing", "100,000.00 × 0.01% = 10.00 ÷ 0.10 = 100 [min(risk_budget / risk)]")
    grid.add_row("Red checks", Text("✓ spread · no trading halt", style="green"))
    app = TwoBlocks()
    async with app.run_test(size=(120, 20)) as pilot:
        laid_out, static = app.query_one(LaidOutStatic), app.query_one(Static)
        assert laid_out.show(grid)  # the first height is news
        static.update(grid)
        for width in (120, 60, 100):
            await pilot.resize_terminal(width, 20)
            await pilot.pause()
            assert laid_out.size.height == static.size.height
            assert [looks(laid_out.render_line(y)) for y in range(laid_out.size.height)] == [
                looks(static.render_line(y)) for y in range(static.size.height)
            ]
        assert not laid_out.show(grid)  # the same height: no new layout


async def test_a_keystroke_applies_no_keymap_while_the_keys_are_the_defaults(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual re-applies its keymap to every binding on the focus chain at each keystroke:
    the default layout hands it none; a moved key is all it gets, and that key works."""
    applied: list[dict[str, str]] = []
    original = BindingsMap.apply_keymap

    def counted(self: BindingsMap, keymap: dict[str, str]) -> Any:
        applied.append(dict(keymap))
        return original(self, keymap)

    monkeypatch.setattr(BindingsMap, "apply_keymap", counted)
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await read_headline(pilot, clock)
        applied.clear()
        await pilot.press("3", "1", "a")
        await wait_for(pilot, lambda: any(c[0] == "approve" for c in engine.calls))
        assert applied == []

    engine = scenarios.with_pending(clock)
    engine.config = Config(console=ConsoleConfig(keys=KeysConfig(approve="x")))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await read_headline(pilot, clock)
        applied.clear()
        await pilot.press("x")
        await wait_for(pilot, lambda: any(c[0] == "approve" for c in engine.calls))
        assert applied and all(keymap == {"approve": "x"} for keymap in applied)


async def test_the_approve_key_acts_where_it_arrives_not_after_bubbling_up(
    clock: ManualClock,
) -> None:
    """The approve binding is checked before the key goes to the focused list: no message
    hop per widget between the keystroke and the approve (1-2 ms under a quote stream)."""
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await read_headline(pilot, clock)
        queue = app.screen.query_one(ApprovalQueue)
        assert app.focused is queue
        reached: list[str] = []
        post = queue.post_message

        def watched(message: Any) -> bool:
            if isinstance(message, events.Key):
                reached.append(message.key)
            return post(message)

        queue.post_message = watched  # type: ignore[method-assign]
        await pilot.press("down", "up")
        await read_headline(pilot, clock)  # the selection moved: its dwell again
        await pilot.press("a")
        await wait_for(pilot, lambda: any(c[0] == "approve" for c in engine.calls))
        assert reached == ["down", "up"]  # old code: "a" too, bubbled up from here


async def test_the_approvals_column_waits_for_a_queued_order_frame(clock: ManualClock) -> None:
    """An approved trade's order row is drawn first, the column (a queue that shrinks: a
    re-layout) after it; a second refresh that lands before that frame must not redo the
    column ahead of it (one more change, e.g. a quote, right behind the order's)."""
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("3")  # the Orders panel
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        shown: list[tuple[int, int]] = []
        show_approvals = screen._show_approvals

        def recorded(state: Any) -> None:
            shown.append((screen.painter.painted, len(state.snapshot.pending)))
            show_approvals(state)

        screen._show_approvals = recorded  # type: ignore[method-assign]
        refresh = app._refresh_from_engine
        quoted: list[bool] = []

        def then_a_quote() -> None:  # a new price, right behind the order's change
            refresh()
            if not quoted:
                quoted.append(True)
                engine.set_quote("AAPL", "187.02", "187.04", publish=False)
                app.post_message(EngineChanged(frozenset({"quote"})))

        app._refresh_from_engine = then_a_quote  # type: ignore[method-assign]
        painted = screen.painter.painted
        pending = engine.pending[0]
        engine.pending.remove(pending)  # approved: its order is working
        engine.add_order(pending.intent.intent_id, LifecycleState.SUBMITTED, symbol="AAPL")
        app.post_message(EngineChanged(frozenset({"order"})))
        await wait_for(pilot, lambda: any(n == len(engine.pending) for _, n in shown))
        assert screen.painter.painted > painted
        assert all(at > painted for at, _ in shown)  # old code: the second refresh, first


async def orders_panel_ready(pilot: Any, app: DeskgateApp, clock: ManualClock) -> MainScreen:
    """The Orders panel on screen and the first trade's headline read for the dwell."""
    await wait_for(pilot, lambda: on_screen(app))
    await pilot.press("3")
    await read_headline(pilot, clock)
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def test_an_approve_refreshes_the_screen_once_before_its_orders_frame(
    clock: ManualClock,
) -> None:
    """The order's event refreshes the screen; the command's own answer (approve available
    again) refreshes it after the order's frame, not as a second whole refresh ahead of it."""
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await orders_panel_ready(pilot, app, clock)
        refreshed_at: list[int] = []
        refresh = app._refresh_from_engine

        def recorded() -> None:
            refreshed_at.append(screen.painter.painted)
            refresh()

        app._refresh_from_engine = recorded  # type: ignore[method-assign]
        painted = screen.painter.painted
        await pilot.press("a")
        await wait_for(pilot, lambda: "orb-aapl-03" in screen.query_one(OrdersTable)._order)
        await wait_for(pilot, lambda: screen.painter.painted > painted and len(refreshed_at) > 1)
        assert refreshed_at.count(painted) == 1  # old code: 2
        await wait_for(pilot, lambda: app.blocker is None)  # approve is offered again


async def test_the_frame_that_paints_an_approved_orders_row_redraws_the_orders_table_alone(
    clock: ManualClock,
) -> None:
    """The command's 'submitted' on the message line (the screen's width) and the approve key
    dimmed in the footer (its bottom line) would stretch the frame over every panel between
    them: Textual redraws the box around all the changes. Both follow the row's frame."""
    engine = scenarios.with_pending(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await orders_panel_ready(pilot, app, clock)
        table = screen.query_one(OrdersTable)
        await wait_for(pilot, lambda: not approve_key(app).has_class("-disabled"))
        changed_at_frames: list[tuple[bool, set[str]]] = []
        refresh = screen._compositor_refresh

        def recording_refresh() -> None:
            changed = {type(w).__name__ for w in screen._dirty_widgets}
            changed_at_frames.append(("orb-aapl-03" in table._order, changed))
            refresh()

        screen._compositor_refresh = recording_refresh  # type: ignore[method-assign]
        await pilot.press("a")
        await wait_for(pilot, lambda: "submitted" in str(screen.query_one(MessageLine).text))
        row_frame = next(changed for has_row, changed in changed_at_frames if has_row)
        assert row_frame == {"OrdersTable"}  # old code: and MessageLine


async def test_an_approve_answered_within_the_dim_delay_never_dims_its_key(
    clock: ManualClock,
) -> None:
    """Dimming the key and lighting it again are two style updates and two footer redraws,
    for an approve in flight a few milliseconds (a longer one dims: the test above)."""
    engine = scenarios.with_pending(clock, command_delay=DIM_AFTER_S / 3)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await read_headline(pilot, clock)
        await wait_for(pilot, lambda: not approve_key(app).has_class("-disabled"))
        key = approve_key(app)
        dimmed: list[bool] = []
        set_class = key.set_class

        def recording_set_class(add: bool, *names: str, **kwargs: Any) -> Any:
            if "-disabled" in names:
                dimmed.append(add)
            return set_class(add, *names, **kwargs)

        key.set_class = recording_set_class  # type: ignore[method-assign]
        await pilot.press("a")
        await wait_for(pilot, lambda: any(o.intent_id == "orb-aapl-03" for o in engine.orders))
        await wait_for(pilot, lambda: app.blocker is None)
        footer = app.screen.query_one(KeysFooter)
        await wait_for(pilot, lambda: footer._dim_timer is None)  # a due dim has fired
        assert dimmed == []  # old code: [True, False]


def lay_out_new_rows(table: DataTable[Any]) -> None:
    """What DataTable does when it goes idle after rows were added (SnapshotTable: at once)."""
    table._require_update_dimensions = False
    new_rows = table._new_rows.copy()
    table._new_rows.clear()
    table._update_dimensions(new_rows)


class TwoMeasuredTables(App[None]):
    def compose(self) -> ComposeResult:
        yield RowPatchedTable(id="patched")
        yield DataTable(id="datatable")


async def test_new_rows_are_measured_as_datatable_measures_them() -> None:
    """Rows of `Text` cells are measured by their widest line, not through Rich (0.9 ms an
    approved order); the columns and the scrollable size come out as DataTable's own."""
    rows = [
        (Text("AAPL", style="bold"), Text("187.20", justify="right"), Text("")),
        (Text("株式会社"), Text("🙂 filled"), Text("two\nlines, wider second")),
        (Text("BRK/B"), Text("1,250,000.00"), Text("CANCELLED")),
    ]
    app = TwoMeasuredTables()
    async with app.run_test(size=(100, 20)) as pilot:
        patched = app.query_one("#patched", RowPatchedTable)
        plain_table: DataTable[Any] = app.query_one("#datatable", DataTable)
        measured: list[object] = []
        measure = data_table_module.measure

        def counting_measure(*args: Any, **kwargs: Any) -> int:
            measured.append(args[1])
            return measure(*args, **kwargs)

        data_table_module.measure = counting_measure  # type: ignore[assignment]
        try:
            for table in (patched, plain_table):
                table.add_columns("symbol", "px", "state")
                for n, cells in enumerate(rows):
                    own = [cell.copy() for cell in cells]  # this table's own cells
                    table.add_row(*own, key=f"row-{n}")
                lay_out_new_rows(table)
            label = Text("labelled")
            patched.add_row(Text("x"), Text("y"), Text("z"), label=label)
            lay_out_new_rows(patched)
        finally:
            data_table_module.measure = measure  # type: ignore[assignment]
        await pilot.pause()
        widths = [c.content_width for c in patched.ordered_columns]
        assert widths == [c.content_width for c in plain_table.ordered_columns]
        assert patched.virtual_size.height == plain_table.virtual_size.height + 1
        assert patched.virtual_size.width - patched._row_label_column_width == (
            plain_table.virtual_size.width
        )
        patched_cells = {id(v) for key in ("row-0", "row-1", "row-2") for v in patched.get_row(key)}
        assert not patched_cells & {id(m) for m in measured}  # old code: all nine
        assert any(m is label for m in measured)  # a labelled row is measured by DataTable
