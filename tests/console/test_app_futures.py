"""The console approves an MES intent whose risk shows in $ at $1.25 a tick; over $15 is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from broker.sim import ManualScheduler, SimBroker, SimVenue
from console.tui import format as fmt
from console.tui.app import DeskgateApp
from console.tui.screens.modals import LiveAccountScreen
from console.tui.widgets.status_bar import StatusBar
from contracts.config import Config, HoursConfig
from contracts.enums import ChaosMode, DenialReason, Mode
from contracts.intent import Instrument, Intent
from engine.clock import ManualClock
from engine.engine import Engine
from tests.console.conftest import evidence_text, on_screen, plain, status_text, wait_for
from tests.console.fakes import FakeEngine
from tests.support import make_intent

MES = Instrument(
    symbol="MES", sec_type="FUT", exchange="CME", tick_size=Decimal("0.25"), multiplier=Decimal(5)
)


def mes_intent(
    clock: ManualClock, intent_id: str, entry: Decimal, stop_ticks: int, front: Instrument
) -> Intent:
    stop = entry - Decimal("0.25") * stop_ticks
    base = make_intent(
        clock, intent_id=intent_id, quantity=1, limit=str(entry), stop_loss=str(stop)
    )
    return base.model_copy(update={"order": base.order.model_copy(update={"instrument": front})})


async def test_an_mes_intent_shows_its_dollar_risk_and_only_fifteen_dollars_pass(
    tmp_path: Path, clock: ManualClock
) -> None:
    scheduler = ManualScheduler(clock.now())
    venue = SimVenue(seed=7, chaos=ChaosMode.INSTANT, scheduler=scheduler)
    broker = SimBroker(venue, account="DU1234567")
    config = Config()
    engine = Engine(config, broker, data_dir=tmp_path, clock=clock)
    app = DeskgateApp(engine, config=config, clock=clock)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        venue.set_price("MES", Decimal("5700.00"), Decimal("5700.25"))
        await engine.watch_quote(MES)
        listed = await broker.contract_details(MES)  # every expiry, front month first
        assert listed[0].expiry is not None
        front = MES.model_copy(update={"expiry": listed[0].expiry.strftime("%Y%m%d")})
        too_wide = mes_intent(clock, "mes-16", Decimal("5700.25"), 13, front)  # 13 x $1.25 = $16.25
        refused = await engine.propose(too_wide, source="test")
        assert not refused.accepted
        assert DenialReason.MAX_RISK_PER_TRADE.value in refused.message
        ok = mes_intent(clock, "mes-15", Decimal("5700.25"), 12, front)  # 12 x $1.25 = $15.00
        result = await engine.propose(ok, source="test")
        assert result.accepted, result.message
        await wait_for(pilot, lambda: app.selected is not None and app.blocker is None)
        text = evidence_text(app)
        assert "12t × $1.25/tick × 1 = $15.00 at risk" in text and "(12t)" in text
        clock.advance(config.console.approve_dwell_s)  # the trader reads the headline
        scheduler.advance(config.console.approve_dwell_s)
        await pilot.press("a")
        await wait_for(pilot, lambda: any(o.order_ref == "dg:mes-15:ENTRY" for o in venue.orders()))


async def test_the_evidence_shows_the_contract_calendar_the_whatif_and_the_session(
    tmp_path: Path, clock: ManualClock
) -> None:
    scheduler = ManualScheduler(clock.now())
    venue = SimVenue(seed=7, chaos=ChaosMode.INSTANT, scheduler=scheduler)
    broker = SimBroker(venue, account="DU1234567")
    config = Config(hours=HoursConfig(calendar="on"))
    engine = Engine(config, broker, data_dir=tmp_path, clock=clock)
    app = DeskgateApp(engine, config=config, clock=clock)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        venue.set_price("MES", Decimal("5700.00"), Decimal("5700.25"))
        await engine.watch_quote(MES)
        listed = await broker.contract_details(MES)
        front_facts = listed[0]
        assert front_facts.expiry is not None
        front = MES.model_copy(update={"expiry": front_facts.expiry.strftime("%Y%m%d")})
        result = await engine.propose(
            mes_intent(clock, "mes-wi", Decimal("5700.25"), 8, front), source="test"
        )
        assert result.accepted, result.message
        await wait_for(pilot, lambda: "init +" in evidence_text(app))
        text = evidence_text(app)
        calendar = engine.snapshot().pending[0].futures
        assert calendar is not None
        assert (
            f"{calendar.local_symbol} · exp {calendar.expiry} · rolls {calendar.roll_date}"
            " · $1.25/tick · x5"
        ) in text
        preview = engine.snapshot().pending[0].preview
        assert preview is not None and preview.preview is not None
        assert f"maint {fmt.money(preview.preview.maint_margin_change, signed=True)}" in text
        assert "EWL after" in text and "comm " in text
        assert "Globex open" in status_text(app)  # Monday 09:30 ET


async def test_the_badge_shows_the_configured_mode_behind_the_live_account_dialog(
    clock: ManualClock,
) -> None:
    engine = FakeEngine(clock=clock, mode=Mode.LIVE, config=Config(mode=Mode.LIVE))
    app = DeskgateApp(engine, config=engine.config, clock=clock, live_account_check="U7654321")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveAccountScreen))
        main = app.screen_stack[0]
        bar = plain(main.query_one(StatusBar).render(), width=400)
        assert "LIVE" in bar and "SIM" not in bar
        assert ("start",) not in engine.calls
