"""The two-loss lockout ends with the session, and an account update never undoes a re-arm."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from contracts.broker import AccountSnapshot, AccountUpdated, order_ref_for
from contracts.enums import DenialReason, Side, TradingState
from engine.engine import Engine
from tests.support import (
    FakeBroker,
    approve_pending,
    config_with,
    eventually,
    make_intent,
    started_engine,
)

DAY_S = 24 * 3600


async def losing_round_trip(engine: Engine, broker: FakeBroker, n: int) -> None:
    """Buy 10 at 100.00, sell them at 99.9x: one losing round trip."""
    clock = broker.clock
    buy = make_intent(clock, limit=f"100.0{n}", stop_loss="99.90")
    assert (await engine.propose(buy)).accepted
    assert (await approve_pending(engine, buy.intent_id)).ok
    broker.fill(order_ref_for(buy.intent_id), 10, f"100.0{n}")
    sell = make_intent(clock, side=Side.SELL, limit=f"99.9{n}", stop_loss=None)
    assert (await engine.propose(sell)).accepted
    assert (await approve_pending(engine, sell.intent_id)).ok
    broker.fill(order_ref_for(sell.intent_id), 10, f"99.9{n}")


async def let_spawned_tasks_run() -> None:
    """Yield to the loop so tasks the engine spawned (an automatic kill) run; no time passes."""
    for _ in range(10):
        await asyncio.sleep(0)


def account_update(broker: FakeBroker) -> None:
    now = broker.clock.now()
    account = AccountSnapshot(
        account_id=broker.account_id, is_paper=True, net_liquidation=Decimal(100000), ts=now
    )
    broker.push(AccountUpdated(ts=now, account=account))


async def locked_out(tmp_path: Path) -> tuple[Engine, FakeBroker]:
    engine, broker, _ = await started_engine(tmp_path, config_with(max_trades_per_day=100))
    await losing_round_trip(engine, broker, 1)
    await losing_round_trip(engine, broker, 2)
    await eventually(lambda: engine.book.trading_state is TradingState.HALTED)
    assert engine.book.consecutive_losses == 2
    return engine, broker


async def test_an_account_update_never_undoes_a_rearm(tmp_path: Path) -> None:
    engine, broker = await locked_out(tmp_path)
    assert (await engine.rearm("reviewed the two losses")).ok
    account_update(broker)
    account_update(broker)
    await let_spawned_tasks_run()
    assert engine.book.trading_state is TradingState.ACTIVE
    # The lockout itself still holds for new entries until the session ends.
    denied = await engine.propose(make_intent(broker.clock, limit="100.05", stop_loss="99.95"))
    assert [d.reason for d in denied.denials] == [DenialReason.CONSECUTIVE_LOSSES]
    await engine.stop()


async def test_the_lockout_ends_at_the_next_session(tmp_path: Path) -> None:
    engine, broker = await locked_out(tmp_path)
    broker.clock.advance(DAY_S)
    assert (await engine.rearm("new session")).ok
    account_update(broker)
    await let_spawned_tasks_run()
    assert engine.book.trading_state is TradingState.ACTIVE
    assert engine.snapshot().consecutive_losses == 0
    broker.quote("AAPL", "99.99", "100.01")
    assert (
        await engine.propose(make_intent(broker.clock, limit="100.05", stop_loss="99.95"))
    ).accepted
    await engine.stop()


async def test_the_lockout_ends_at_the_next_session_across_a_restart(tmp_path: Path) -> None:
    engine, broker = await locked_out(tmp_path)
    await engine.stop()
    engine.store.close()
    broker.clock.advance(DAY_S)
    again = Engine(engine.config, broker, data_dir=tmp_path, clock=broker.clock)
    await again.start()
    assert (await again.rearm("new session")).ok
    account_update(broker)
    await let_spawned_tasks_run()
    assert again.book.trading_state is TradingState.ACTIVE
    broker.quote("AAPL", "99.99", "100.01")
    assert (
        await again.propose(make_intent(broker.clock, limit="100.05", stop_loss="99.95"))
    ).accepted
    await again.stop()


async def test_one_loss_trigger_throws_the_switch_once(tmp_path: Path) -> None:
    """The second loss's fill and the account updates right behind it each looked at the
    lockout before the spawned kill had run, and each threw the switch: three KILL alerts for
    one lockout, and the broker's kill confirmation restarted each time."""
    engine, broker, _ = await started_engine(tmp_path, config_with(max_trades_per_day=100))
    await losing_round_trip(engine, broker, 1)
    await losing_round_trip(engine, broker, 2)
    account_update(broker)
    account_update(broker)
    await let_spawned_tasks_run()
    assert engine.book.trading_state is TradingState.HALTED
    kills = [a.message for a in engine.book.alerts if a.code == "KILL"]
    assert kills == ["HALTED by auto: 2 consecutive losses"]
    await engine.stop()
