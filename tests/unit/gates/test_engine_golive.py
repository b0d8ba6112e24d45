"""The engine's go-live commands: tier cap, rollback, auto-approve policy, gate results."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from contracts.broker import AccountSnapshot, AccountUpdated, PacingViolation, order_ref_for
from contracts.config import Config
from contracts.enums import DenialReason, Mode, TradingState
from contracts.events import (
    AutoApprovePolicySet,
    RollbackCompleted,
    RollbackStarted,
    parse_event,
)
from engine.clock import ManualClock
from engine.engine import Engine
from engine.gates import GateEvidence, Verdict, evaluate
from tests.support import FakeBroker, approve_pending, config_with, eventually, make_intent


class NavBroker(FakeBroker):
    """FakeBroker whose account carries a NAV."""

    nav = Decimal(100000)

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot(
            account_id=self.account_id, is_paper=True, net_liquidation=self.nav, ts=self.clock.now()
        )

    def push_nav(self, nav: Decimal) -> None:
        self.nav = nav
        self.push(AccountUpdated(ts=self.clock.now(), account=self._snapshot()))

    def _snapshot(self) -> AccountSnapshot:
        return AccountSnapshot(
            account_id=self.account_id, is_paper=True, net_liquidation=self.nav, ts=self.clock.now()
        )


async def engine_with(tmp_path: Path, config: Config) -> tuple[Engine, NavBroker, ManualClock]:
    clock = ManualClock()
    broker = NavBroker(clock)
    engine = Engine(config, broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    return engine, broker, clock


def beads(engine: Engine, kind: str) -> list[object]:
    engine.store.flush()
    return [parse_event(r.payload) for r in engine.store.rows() if r.kind == kind]


async def test_scale_tier_caps_positions_from_the_go_live_date(tmp_path: Path) -> None:
    base = config_with(max_trades_per_day=100)
    today = ManualClock().now().date().isoformat()
    cfg = base.model_copy(update={"scale": base.scale.model_copy(update={"go_live_date": today})})
    engine, _, _ = await engine_with(tmp_path, cfg)
    tier = engine.scale_tier()
    assert tier is not None and tier.max_position_value == Decimal(2500)
    assert engine.snapshot().scale_tier == tier
    # 24 x 100.00 = 2400 fits under the week-1 cap of 2500; 26 does not.
    ok = await engine.propose(make_intent(engine.clock, quantity=24, stop_loss="99.95"))
    assert ok.accepted, ok.message
    denied = await engine.propose(make_intent(engine.clock, quantity=26, stop_loss="99.95"))
    assert not denied.accepted
    assert [d.reason for d in denied.denials] == [DenialReason.SCALE_TIER]
    await engine.stop()


async def test_no_tier_without_go_live_date(tmp_path: Path) -> None:
    engine, _, _ = await engine_with(tmp_path, config_with())
    assert engine.scale_tier() is None and engine.snapshot().scale_tier is None
    await engine.stop()


async def test_rollback_cancels_flattens_verifies_and_records(tmp_path: Path) -> None:
    engine, broker, _ = await engine_with(tmp_path, config_with(max_trades_per_day=10))
    broker.push_nav(Decimal(100000))
    intent = make_intent(engine.clock, quantity=10)
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    broker.fill(order_ref_for(intent.intent_id), 10, "100.00")
    second = make_intent(engine.clock, quantity=5, limit="99.50", stop_loss="99.40")
    assert (await engine.propose(second)).accepted
    assert (await approve_pending(engine, second.intent_id)).ok
    assert broker.entries() == [order_ref_for(second.intent_id)]

    task = asyncio.ensure_future(engine.rollback("drill", actor="risk"))
    await eventually(lambda: any(r.order_ref.endswith(":FLAT") for r in broker.submits))
    flat = next(r for r in broker.submits if r.order_ref.endswith(":FLAT"))
    assert flat.side.value == "SELL" and flat.quantity == 10
    broker.fill(flat.order_ref, 10, "100.02")
    result = await task

    assert result.ok, result.message
    assert broker.cancel_all_calls >= 1 and not broker.working
    assert engine.book.trading_state is TradingState.HALTED
    started = beads(engine, "ROLLBACK_STARTED")
    done = beads(engine, "ROLLBACK_COMPLETED")
    assert isinstance(started[0], RollbackStarted) and started[0].reason == "drill"
    assert isinstance(done[0], RollbackCompleted)
    assert done[0].verified and done[0].flat and done[0].open_orders == 0
    assert done[0].nav_start == Decimal(100000) and done[0].duration_s < 30
    assert engine.last_rollback == done[0]
    await engine.stop()


async def test_rollback_that_cannot_flatten_is_recorded_unverified(tmp_path: Path) -> None:
    engine, broker, _ = await engine_with(tmp_path, config_with())
    broker.push_nav(Decimal(100000))
    broker.position_book["MSFT"] = Decimal(7)  # a position the engine cannot close
    result = await engine.rollback("drill", timeout_s=0.3)
    assert not result.ok and result.code == "UNVERIFIED"
    done = engine.last_rollback
    assert done is not None and not done.verified and "not flat: MSFT 7" in done.problems
    assert engine.book.trading_state is TradingState.HALTED
    assert not (await engine.rollback("  ")).ok
    await engine.stop()


async def test_pacing_violations_start_an_automatic_rollback(tmp_path: Path) -> None:
    engine, broker, _ = await engine_with(tmp_path, config_with())
    broker.push_nav(Decimal(100000))
    for _ in range(10):
        broker.push(PacingViolation(ts=engine.clock.now(), message="100"))
    assert not beads(engine, "ROLLBACK_STARTED")
    broker.push(PacingViolation(ts=engine.clock.now(), message="100"))
    await eventually(lambda: engine.last_rollback is not None)
    started = beads(engine, "ROLLBACK_STARTED")
    assert isinstance(started[0], RollbackStarted) and started[0].automatic
    assert "11 pacing violations" in started[0].reason
    assert engine.book.trading_state is TradingState.HALTED
    await engine.stop()


async def test_a_nav_loss_past_five_percent_starts_a_rollback(tmp_path: Path) -> None:
    engine, broker, _ = await engine_with(tmp_path, config_with())
    broker.push_nav(Decimal(100000))
    broker.push_nav(Decimal(96000))
    assert engine.last_rollback is None
    broker.push_nav(Decimal(94000))
    await eventually(lambda: engine.last_rollback is not None)
    assert "P&L -6.00%" in engine.last_rollback.reason  # type: ignore[union-attr]
    await engine.stop()


def policy(now: datetime) -> AutoApprovePolicySet:
    return AutoApprovePolicySet(
        ts_event=now, ts_init=now, policy="p", mode="paper", symbols=("AAPL",), max_trades=5,
        risk_overrides={"max_trades_per_day": "15"}, reason="test",
    )  # fmt: skip


async def test_auto_approve_policy_is_recorded_for_paper_and_refused_live(tmp_path: Path) -> None:
    engine, _, _ = await engine_with(tmp_path / "paper", config_with())
    assert engine.golive.record_auto_approve_policy(policy(engine.clock.now())).ok
    assert len(beads(engine, "AUTO_APPROVE_POLICY")) == 1
    await engine.stop()
    live = config_with().model_copy(update={"mode": Mode.LIVE})
    engine, _, _ = await engine_with(tmp_path / "live", live)
    result = engine.golive.record_auto_approve_policy(policy(engine.clock.now()))
    assert not result.ok and not beads(engine, "AUTO_APPROVE_POLICY")
    await engine.stop()


async def test_published_gates_reach_the_snapshot(tmp_path: Path) -> None:
    engine, _, _ = await engine_with(tmp_path, config_with())
    assert engine.snapshot().gates is None
    sub = engine.bus.subscribe()
    results = evaluate(GateEvidence())
    engine.golive.publish_gates(results)
    snap = engine.snapshot()
    assert snap.gates == results and snap.gates[7].verdict is Verdict.PENDING
    assert (await sub.get()).reason == "gates"
    assert engine.golive.gates == results
    await engine.stop()
