"""The order ticket (`n`), replace (`m`), close a position (`x`), quotes, latency labels and
reconnect-now, driven as a trader would."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from console.tui.screens.modals import ConfirmScreen, KillConfirmScreen
from console.tui.screens.ticket import TicketScreen
from console.tui.widgets.evidence import EvidencePanel
from console.tui.widgets.latency import LatencyPanel
from console.tui.widgets.quotes import QuotesPanel
from contracts.enums import LifecycleState, TradingState
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, wait_for
from tests.console.test_app import app_for, started
from tests.console.test_app_engine import Desk, desk  # noqa: F401 (the real-engine fixture)

D = Decimal


def checks_text(app: Any) -> str:
    return str(app.screen.query_one("#ticket-checks").render())


async def test_n_opens_the_ticket_and_capitals_are_text_not_kill(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("n")
        assert isinstance(app.screen, TicketScreen)
        await pilot.press(*"KO", "tab", *"BUY", "tab", *"100")
        assert app.screen.query_one("#t-symbol").value == "KO"
        assert not isinstance(app.screen, KillConfirmScreen)
        assert engine.trading_state is TradingState.ACTIVE
        assert not any(c[0] == "kill" for c in engine.calls)
        await pilot.press("escape")
        assert not isinstance(app.screen, TicketScreen)
        assert not any(c[0] == "propose_manual" for c in engine.calls)


async def test_ctrl_k_still_kills_from_the_ticket(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("n", "ctrl+k")
        assert isinstance(app.screen, KillConfirmScreen)


async def test_the_ticket_shows_the_numbers_and_sends_only_a_valid_ticket(
    clock: ManualClock,
) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    engine.set_quote("KO", "60.10", "60.12")
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("n", *"KO", "tab", *"BUY", "tab", *"100", "tab", "tab")
        await pilot.press(*"60.115", "tab", *"60.00")
        await wait_for(pilot, lambda: "bid 60.10 / ask 60.12" in checks_text(app))
        text = checks_text(app)
        assert "off the 0.01 tick grid: nearest 60.11 or 60.12" in text
        await pilot.press("enter")
        assert isinstance(app.screen, TicketScreen)  # refused: nothing proposed
        assert "Not sent" in str(app.screen.query_one("#dialog-error").render())
        assert not any(c[0] == "propose_manual" for c in engine.calls)

        price = app.screen.query_one("#t-price")
        price.value = "60.11"
        await wait_for(pilot, lambda: "risk $11.00 to the stop" in checks_text(app))
        assert "notional $6,011.00" in checks_text(app)
        assert "✗" not in checks_text(app), checks_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(c[0] == "propose_manual" for c in engine.calls))
        assert not isinstance(app.screen, TicketScreen)
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.pending)
        (pending,) = app.snapshot.pending
        assert pending.intent.strategy == "manual"
        assert not any(c[0] == "approve" for c in engine.calls)  # it waits for the token


async def test_m_opens_the_ticket_prefilled_to_replace_the_selected_order(
    clock: ManualClock,
) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    engine.set_quote("NVDA", "880.00", "880.10")
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("3")
        working = [o for o in app.snapshot.orders if o.state.is_working]
        table = app.screen.query_one("#orders")
        row = table.get_row_index(working[0].intent_id)
        table.move_cursor(row=row)
        await pilot.press("m")
        assert isinstance(app.screen, TicketScreen)
        title = str(app.screen.query_one("#dialog-title").render())
        assert f"REPLACE {working[0].intent_id}" in title
        assert app.screen.query_one("#t-symbol").value == working[0].symbol
        assert app.screen.query_one("#t-symbol").disabled
        await pilot.press("escape")


async def test_m_outside_the_orders_panel_opens_nothing(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("m")
        assert not isinstance(app.screen, TicketScreen)


async def test_x_lists_what_it_sends_and_closes_after_y(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("2", "x")
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#dialog-body").render())
        assert "SELL 30 MSFT MKT" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: any(c[0] == "close_position" for c in engine.calls))
        assert next(c[:2] for c in engine.calls if c[0] == "close_position") == (
            "close_position",
            "MSFT",
        )
        await wait_for(pilot, lambda: not app.screen.query_one("#positions").row_count)


async def test_x_then_escape_or_outside_positions_sends_nothing(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("x")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("2", "x", "escape")
        await pilot.pause()
        assert not any(c[0] == "close_position" for c in engine.calls)


async def test_the_quotes_panel_lists_exposure_and_a_tick_rewrites_only_what_moved(
    clock: ManualClock,
) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    engine.config = engine.config.model_copy(
        update={"console": engine.config.console.model_copy(update={"symbols": ("SPY",)})}
    )
    engine.set_quote("SPY", "500.00", "500.02")
    engine.set_quote("MSFT", "412.50", "412.55")
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        panel = app.screen.query_one(QuotesPanel)
        await wait_for(pilot, lambda: panel.row_count >= 2)
        symbols = [str(panel.get_row_at(i)[0]) for i in range(panel.row_count)]
        assert symbols[0] == "SPY" and "MSFT" in symbols and "NVDA" in symbols
        before = panel.updates
        engine.set_quote("MSFT", "412.51", "412.55")
        await wait_for(pilot, lambda: panel.updates > before)
        await pilot.pause()
        assert panel.updates - before <= 4  # bid, last, spread, change: never a rebuild
        assert [str(panel.get_row_at(i)[0]) for i in range(panel.row_count)] == symbols


async def test_latency_labels_say_whose_time_it_is(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(180, 50)) as pilot:
        await started(pilot, app)
        titles = [str(s.render()) for s in app.screen.query_one(LatencyPanel).query(".stage-title")]
        assert titles[0] == "TRADER\nintent→approve"
        assert titles[1] == "ENGINE\napprove→submit"
        assert "ENGINE" in titles[2] and "submit→ack" in titles[2]


async def test_o_reconnects_now_after_a_drop(clock: ManualClock) -> None:
    engine = scenarios.base(scenarios.FakeEngine(clock=clock))
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("o")
        await pilot.pause()
        assert ("reconnect_now",) not in engine.calls  # connected: nothing to do
        engine.connection = replace(engine.connection, connected=False, down_reason="dropped")
        engine.publish("disconnected")
        await wait_for(pilot, lambda: app.check_action("reconnect", ()) is True)
        await pilot.press("o")
        await wait_for(pilot, lambda: ("reconnect_now",) in engine.calls)


async def test_the_market_line_keeps_notional_and_risk_at_120_columns(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_market(clock)
    app = app_for(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        market = app.screen.query_one(EvidencePanel).query_one("#evidence-market")

        def shown() -> str:  # as laid out (the panel appears with the first pending trade)
            lines = market.render_lines(market.region.reset_offset)
            return "\n".join(strip.text for strip in lines)

        await wait_for(pilot, lambda: "notional $9,360.00 · risk $5.00" in shown())


async def test_a_ticket_at_the_real_venue_waits_for_approval_then_sends(
    desk: Desk,  # noqa: F811
) -> None:
    app = desk.app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        bid = desk.venue.quote("AAPL").bid
        await pilot.press("n", *"AAPL", "tab", *"BUY", "tab", *"10", "tab", "tab")
        await pilot.press(*str(bid - D("0.50")), "tab", *str(bid - D("0.60")))
        await wait_for(pilot, lambda: "✗" not in checks_text(app) and "risk $" in checks_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.selected is not None and app.blocker is None)
        assert app.selected is not None and app.selected.intent.strategy == "manual"
        assert desk.venue.orders() == []  # proposed only
        desk.advance(desk.config.console.approve_dwell_s)
        await pilot.press("a")
        await wait_for(pilot, lambda: desk.venue.orders() != [])
        rec = desk.engine.book.records[app.snapshot.orders[0].intent_id]
        assert rec.intent.strategy == "manual" and rec.state is not LifecycleState.PROPOSED


def test_a_stop_already_through_the_market_is_refused() -> None:
    from console.tui.screens.ticket import TicketForm, validate
    from contracts.broker import Quote
    from contracts.config import RiskConfig
    from contracts.intent import Instrument
    from contracts.market import ContractFacts
    from engine.manual import ContractLookup

    facts = ContractFacts(
        con_id=1,
        symbol="KO",
        sec_type="STK",
        exchange="SMART",
        currency="USD",
        multiplier=D(1),
        min_tick=D("0.01"),
    )
    lookup = ContractLookup(Instrument(symbol="KO"), facts)
    quote = Quote(
        symbol="KO", bid=D("60.10"), ask=D("60.12"), last=D("60.11"), ts=ManualClock().now()
    )
    check = validate(
        TicketForm("KO", "BUY", "100", "LMT", "60.20", "60.10"), lookup, quote, RiskConfig()
    )
    assert not check.ok
    assert any("already through the bid" in line for ok, line in check.lines if not ok)
    fine = validate(
        TicketForm("KO", "BUY", "100", "LMT", "60.11", "60.01"), lookup, quote, RiskConfig()
    )
    assert fine.ok, fine.lines
