"""One bad record never bricks the engine (issue 9 s2): replay reports it, starts HALTED."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from contracts.broker import order_ref_for
from contracts.enums import LifecycleState, Side, TradingState
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import (
    FakeBroker,
    approve_pending,
    config_with,
    eventually,
    make_intent,
    started_engine,
)


def poison_intent(store_path: Path, intent_id: str) -> int:
    """Rewrite a stored intent so it no longer parses (as a NaN stored as null once did)."""
    conn = sqlite3.connect(str(store_path))
    seq, payload = conn.execute(
        "SELECT seq, payload FROM beads WHERE kind = 'INTENT' AND intent_id = ?", (intent_id,)
    ).fetchone()
    data = json.loads(payload)
    data["intent"]["order"]["quantity"] = None
    conn.execute("UPDATE beads SET payload = ? WHERE seq = ?", (json.dumps(data), seq))
    conn.commit()
    conn.close()
    return int(seq)


async def test_an_unparseable_record_is_reported_and_the_engine_starts_halted(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    assert (await engine.propose(make_intent(clock))).accepted
    pending = make_intent(clock, limit="99.90", stop_loss="99.80")
    assert (await engine.propose(pending)).accepted
    first = next(iter(engine.book.records))
    assert (await approve_pending(engine, first)).ok
    broker.fill(order_ref_for(first), 10, "100.00")
    await eventually(lambda: engine.book.positions["AAPL"].quantity == 10)
    await engine.stop()
    engine.store.close()
    bad_seq = poison_intent(tmp_path / "audit.sqlite", pending.intent_id)

    broker2 = FakeBroker(clock)
    broker2.position_book["AAPL"] = Decimal(10)
    restarted = Engine(config_with(), broker2, data_dir=tmp_path, clock=clock)
    await restarted.start()  # must not raise

    assert restarted.book.trading_state is TradingState.HALTED
    alerts = [a for a in restarted.book.alerts if a.code == "UNREADABLE_RECORD"]
    assert alerts and alerts[0].level.value == "CRITICAL"
    assert f"seq {bad_seq}" in alerts[0].message and "ValidationError" in alerts[0].message
    assert restarted.book.records[first].state is not LifecycleState.PROPOSED
    # The safety actions still work.
    assert (await restarted.kill("after a bad record")).ok
    flat = await restarted.flatten("after a bad record")
    assert flat.ok, flat.message
    assert [(r.side, r.quantity) for r in broker2.submits if r.order_ref.endswith(":FLAT")] == [
        (Side.SELL, Decimal(10))
    ]
    result = await restarted.rollback("after a bad record", timeout_s=0.3)
    assert restarted.last_rollback is not None and result.message.startswith("rollback")
    await restarted.stop()


async def test_replay_of_a_clean_store_starts_active(tmp_path: Path) -> None:
    clock = ManualClock()
    engine = Engine(config_with(), FakeBroker(clock), data_dir=tmp_path, clock=clock)
    await engine.start()
    assert engine.book.trading_state is TradingState.ACTIVE
    assert not [a for a in engine.book.alerts if a.code == "UNREADABLE_RECORD"]
    await engine.stop()
