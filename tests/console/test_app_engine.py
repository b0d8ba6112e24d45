"""Pilot flows against the REAL engine and the simulated venue (no fakes)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from broker.sim import ManualScheduler, SimBroker, SimVenue
from console.tui.app import DeskgateApp
from console.tui.screens.drift import DriftScreen
from console.tui.screens.modals import TYPED_BURST_S, KillConfirmScreen, ReasonScreen
from console.tui.widgets.drift import DriftBanner, DriftTable
from console.tui.widgets.tables import OrdersTable, PositionsTable
from contracts.config import Config
from contracts.enums import ChaosMode, DriftType, LifecycleState, TradingState
from engine.clock import ManualClock
from engine.engine import Engine
from tests.console.conftest import on_screen, status_text, wait_for
from tests.support import FakeBroker, approve_pending, config_with, make_intent


class Desk:
    """The real engine on a seeded sim venue whose scheduler shares the test's frozen clock."""

    def __init__(self, tmp_path: Path, clock: ManualClock) -> None:
        self.clock = clock
        self.scheduler = ManualScheduler(clock.now())
        self.venue = SimVenue(seed=7, chaos=ChaosMode.INSTANT, scheduler=self.scheduler)
        self.broker = SimBroker(self.venue, account="DU1234567")
        base = Config()
        self.config = base.model_copy(
            update={
                "risk": base.risk.model_copy(
                    update={"max_trades_per_day": 100, "max_working_orders": 20}
                )
            }
        )
        self.engine = Engine(self.config, self.broker, data_dir=tmp_path, clock=clock)
        self.app = DeskgateApp(self.engine, config=self.config, clock=clock)

    def advance(self, seconds: float = 1.0) -> None:
        self.clock.advance(seconds)
        self.scheduler.advance(seconds)


@pytest.fixture
def desk(tmp_path: Path, clock: ManualClock) -> Desk:
    return Desk(tmp_path, clock)


async def test_approve_reaches_the_venue_fills_and_shows_the_position(desk: Desk) -> None:
    app = desk.app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        ask = desk.venue.quote("AAPL").ask
        intent = make_intent(
            desk.clock,
            intent_id="ui-buy-1",
            limit=str(ask + Decimal("0.02")),
            stop_loss=str(ask - Decimal("0.08")),
        )
        result = await desk.engine.propose(intent, source="test")
        assert result.accepted, result.message
        await wait_for(pilot, lambda: app.selected is not None and app.blocker is None)
        assert app.selected is not None and app.selected.intent.intent_id == "ui-buy-1"

        desk.advance(desk.config.console.approve_dwell_s)  # the trader reads the headline
        await pilot.press("a")
        await wait_for(
            pilot, lambda: any(o.order_ref.startswith("dg:ui-buy-1") for o in desk.venue.orders())
        )
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(
                    o.intent_id == "ui-buy-1" and o.filled == o.requested
                    for o in app.snapshot.orders
                )
            ),
        )
        assert [e for e in desk.venue.executions() if e.order_ref == "dg:ui-buy-1:ENTRY"]

        positions = app.screen.query_one(PositionsTable)
        await wait_for(pilot, lambda: positions.row_count == 1)
        row = positions.get_row_at(0)
        assert str(row[0]) == "AAPL" and str(row[1]) == "10"
        await pilot.press("3")  # hidden panels are filled when they come into view
        orders = app.screen.query_one(OrdersTable)
        assert any("ui-buy-1" in str(orders.get_row_at(i)[-1]) for i in range(orders.row_count))
        assert app.snapshot is not None and not app.snapshot.pending


async def test_kill_with_ten_working_orders_cancels_all_and_is_broker_confirmed(
    desk: Desk,
) -> None:
    app = desk.app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        bid = desk.venue.quote("AAPL").bid
        for i in range(10):
            limit = bid - Decimal("1.00") - Decimal(i) / 100  # resting, not marketable
            intent = make_intent(
                desk.clock,
                intent_id=f"rest-{i}",
                quantity=10 + i,
                limit=str(limit),
                stop_loss=str(limit - Decimal("0.10")),
            )
            assert (await desk.engine.propose(intent, source="test")).accepted
        for pending in desk.engine.snapshot().pending:
            assert (await desk.engine.approve(pending.intent.intent_id, pending.token)).ok
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and sum(o.state.is_working for o in app.snapshot.orders) == 10
            ),
        )
        entries = [o for o in desk.venue.orders(open_only=True) if o.order_ref.endswith("ENTRY")]
        assert len(entries) == 10  # (+ their held bracket stops)

        await pilot.press("K")
        assert isinstance(app.screen, KillConfirmScreen)
        desk.clock.advance(2 * TYPED_BURST_S)  # read, then confirm
        await pilot.press("y")

        def confirmed() -> bool:
            desk.advance(0.5)
            snap = app.snapshot
            return snap is not None and snap.kill_confirmed is True

        await wait_for(pilot, confirmed, timeout=10)
        snap = app.snapshot
        assert snap is not None
        assert snap.trading_state is TradingState.HALTED
        assert desk.venue.orders(open_only=True) == []
        assert all(o.state is LifecycleState.CANCELLED for o in snap.orders)
        assert "HALTED" in status_text(app) and "broker-confirmed" in status_text(app)
        assert app.check_action("approve", ()) is None


async def test_wrong_broker_position_is_drift_resolved_engine_corrected(
    tmp_path: Path, clock: ManualClock
) -> None:
    broker = FakeBroker(clock)
    config = config_with(max_trades_per_day=5)
    engine = Engine(config, broker, data_dir=tmp_path, clock=clock)
    app = DeskgateApp(engine, config=config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        broker.quote("AAPL", "99.99", "100.01")
        intent = make_intent(clock, intent_id="drift-buy-1", quantity=10)
        assert (await engine.propose(intent, source="test")).accepted
        assert (await approve_pending(engine, intent.intent_id)).ok
        broker.fill("dg:drift-buy-1:ENTRY", 10, "100.00")
        await wait_for(pilot, lambda: app.snapshot is not None and bool(app.snapshot.positions))
        broker.position_book["AAPL"] = Decimal(7)  # 3 shares sold by hand in TWS

        await pilot.press("R")  # reconcile from the console
        await wait_for(pilot, lambda: "1 DRIFT" in status_text(app), timeout=5)
        assert "REDUCING" in status_text(app)
        assert app.screen.query_one(DriftBanner).display
        (drift,) = engine.snapshot().drifts
        assert drift.drift_type is DriftType.POSITION_SIZE and drift.subject == "AAPL"

        await pilot.press("D")
        assert isinstance(app.screen, DriftScreen)
        table = app.screen.query_one(DriftTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        row = " ".join(str(cell) for cell in table.get_row_at(0))
        assert "POSITION_SIZE" in row and "qty 10" in row and "qty 7" in row
        await pilot.press("e")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"3 sold in TWS by hand", "enter")

        await wait_for(pilot, lambda: app.snapshot is not None and not app.snapshot.drifts)
        assert app.snapshot is not None
        assert app.snapshot.trading_state is TradingState.ACTIVE
        await wait_for(pilot, lambda: "ACTIVE" in status_text(app))
        assert "DRIFT" not in status_text(app)
        assert engine.book.positions["AAPL"].quantity == 7  # the engine adopted the broker
        engine.store.flush()
        resolutions = [r for r in engine.store.rows() if r.kind == "RECONCILIATION_RESOLUTION"]
        assert len(resolutions) == 1
        assert "ENGINE_CORRECTED" in resolutions[0].payload
        assert "3 sold in TWS by hand" in resolutions[0].payload


async def test_rollback_from_the_console_flattens_verifies_and_writes_a_report(
    desk: Desk, tmp_path: Path
) -> None:
    app = desk.app
    app.config = desk.config.model_copy(update={"data_dir": str(tmp_path / "data")})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: on_screen(app))
        ask = desk.venue.quote("AAPL").ask
        intent = make_intent(
            desk.clock,
            intent_id="ui-rollback-1",
            limit=str(ask + Decimal("0.02")),
            stop_loss=str(ask - Decimal("0.08")),
        )
        assert (await desk.engine.propose(intent, source="test")).accepted
        assert (await approve_pending(desk.engine, "ui-rollback-1")).ok
        await wait_for(pilot, lambda: desk.engine.book.positions["AAPL"].quantity == 10)

        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, ReasonScreen))
        await pilot.press("enter")  # an empty reason is refused: still asking
        assert isinstance(app.screen, ReasonScreen)
        for key in "drill":
            await pilot.press(key)
        await pilot.press("enter")
        await wait_for(pilot, lambda: desk.engine.last_rollback is not None, timeout=15)
        done = desk.engine.last_rollback
        assert done is not None and done.flat and done.open_orders == 0
        assert desk.engine.book.trading_state is TradingState.HALTED
        assert not [o for o in desk.venue.orders() if o.is_open]
        reports = list((tmp_path / "data" / "incidents").glob("INCIDENT_*.md"))
        assert len(reports) == 1 and "Reason: drill" in reports[0].read_text()
