"""Limits on the running engine: tightening at once, loosening only with a reason, audited."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.enums import DenialReason as R
from contracts.enums import LifecycleState
from contracts.events import LimitChanged
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, config_with, make_intent, started_engine


async def test_tightening_applies_at_once_and_re_checks_pending_intents(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    big = make_intent(clock, quantity=100, stop_loss="99.99")  # $10,000 notional
    small = make_intent(clock, quantity=10)
    assert (await engine.propose(big)).accepted and (await engine.propose(small)).accepted
    result = engine.set_limit("max_notional", "5000")
    assert result.ok, result.message
    assert "1 pending denied" in result.message
    assert engine.book.records[big.intent_id].state is LifecycleState.REJECTED
    assert not (await approve_pending(engine, big.intent_id)).ok
    assert (await approve_pending(engine, small.intent_id)).ok
    later = await engine.propose(make_intent(clock, quantity=60, stop_loss="99.99"))
    assert {d.reason for d in later.denials} == {R.MAX_NOTIONAL}
    assert len(broker.submits) == 1
    await engine.stop()


async def test_loosening_needs_a_typed_reason_and_both_are_audited(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    refused = engine.set_limit("risk.max_order_quantity", "1000")
    assert not refused.ok and "needs a typed reason" in refused.message
    assert engine.config.risk.max_order_quantity == 500
    assert engine.set_limit("max_order_quantity", "100").ok
    loosened = engine.set_limit("max_order_quantity", "800", reason="  ", actor="trader")
    assert not loosened.ok
    assert engine.set_limit("max_order_quantity", "800", reason="earnings desk size").ok
    assert engine.config.risk.max_order_quantity == 800
    changes = [e for e in engine.store.events() if isinstance(e, LimitChanged)]
    assert [(c.key, c.old, c.new, c.tightens, c.reason) for c in changes] == [
        ("max_order_quantity", "500", "100", True, ""),
        ("max_order_quantity", "100", "800", False, "earnings desk size"),
    ]
    await engine.stop()


async def test_the_direction_of_tighter_depends_on_the_limit(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    assert engine.set_limit("duplicate_window_s", "60").ok  # a longer window is stricter
    assert not engine.set_limit("duplicate_window_s", "1").ok
    assert not engine.set_limit("require_stop", "false").ok  # dropping the stop is looser
    assert engine.set_limit("max_working_orders", "2").ok
    assert not engine.set_limit("max_working_orders", "21", reason="more").ok  # IB allows 20
    assert not engine.set_limit("no_such_limit", "1").ok
    assert not engine.set_limit("max_orders_per_second", "10").ok
    await engine.stop()


async def test_a_restart_keeps_a_tightening_but_never_a_loosening(tmp_path: Path) -> None:
    engine, _, _ = await started_engine(tmp_path)
    assert engine.set_limit("max_notional", "5000").ok
    assert engine.set_limit("max_position", "900", reason="wide day").ok
    await engine.stop()
    clock = ManualClock()
    again = Engine(config_with(), FakeBroker(clock), data_dir=tmp_path, clock=clock)
    await again.start()
    assert again.config.risk.max_notional == Decimal(5000)
    assert again.config.risk.max_position == Decimal(500)
    await again.stop()
