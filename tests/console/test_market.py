"""The pending trade's headline with the market: bid/ask, the limit against it, notional, risk."""

from __future__ import annotations

from console.tui.app import DeskgateApp
from console.tui.widgets.account import AccountStrip
from console.tui.widgets.evidence import EvidencePanel
from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.conftest import on_screen, plain, wait_for
from tests.console.fakes import FakeEngine


def evidence_text(app: DeskgateApp) -> str:
    return "".join(plain(part, width=300) for part in app.screen.query_one(EvidencePanel).text())


def app_for(engine: FakeEngine) -> DeskgateApp:
    engine.started = False
    return DeskgateApp(engine, config=engine.config, clock=engine.clock)


async def test_the_headline_shows_the_limit_through_the_ask_and_the_stop_through_the_bid(
    clock: ManualClock,
) -> None:
    engine = scenarios.with_market(clock)
    app = app_for(engine)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await wait_for(pilot, lambda: "bid 187.02" in evidence_text(app))
        text = evidence_text(app)
        assert "bid 187.02 / ask 187.04 · limit 16c through the ask" in text
        assert "STOP 187.10 ≥ bid" in text
        assert "notional $9,360.00 · risk $5.00" in text


async def test_a_sell_limit_off_the_bid_and_a_new_quote_are_shown(clock: ManualClock) -> None:
    engine = scenarios.with_market(clock)
    app = app_for(engine)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await pilot.press("down")
        await wait_for(pilot, lambda: "bid 158.38 / ask 158.41" in evidence_text(app))
        assert "limit 2c off the bid" in evidence_text(app)
        assert "notional $11,880.00 · risk $15.00" in evidence_text(app)
        engine.set_quote("AMD", "158.45", "158.47")
        await wait_for(pilot, lambda: "limit 5c through the bid" in evidence_text(app))


async def test_no_quote_is_said_plainly(clock: ManualClock) -> None:
    app = app_for(scenarios.with_pending(clock))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        await wait_for(pilot, lambda: "no quote" in evidence_text(app))


async def test_the_account_strip_stays_at_80_columns_and_agrees_with_positions(
    clock: ManualClock,
) -> None:
    app = app_for(scenarios.with_pending(clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        strip = app.screen.query_one(AccountStrip)
        await wait_for(pilot, lambda: "day" in plain(strip.render(), width=80))
        narrow = plain(strip.render(), width=80)
        assert "day +9.30 net" in narrow  # realized -4.20 (net) + MSFT unrealized +13.50
        assert "NetLiq 100,000.00 USD" in narrow
    app = app_for(scenarios.with_pending(ManualClock()))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        strip = app.screen.query_one(AccountStrip)
        await wait_for(pilot, lambda: "unrl" in plain(strip.render(), width=160))
        assert "rlzd -4.20 (after comm.) + unrl +13.50" in plain(strip.render(), width=160)
