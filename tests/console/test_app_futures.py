"""The console approves an MES intent whose risk shows in $ at $1.25 a tick; over $15 is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from broker.sim import ManualScheduler, SimBroker, SimVenue
from console.tui.app import DeskgateApp
from contracts.config import Config
from contracts.enums import ChaosMode, DenialReason
from contracts.intent import Instrument, Intent
from engine.clock import ManualClock
from engine.engine import Engine
from tests.console.conftest import evidence_text, on_screen, wait_for
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
