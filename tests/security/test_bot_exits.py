"""Attacks on the bot's exits and stop moves: never a wider stop, never an exit that adds risk."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.broker import ModifyRejected, order_ref_for
from contracts.enums import LifecycleState, OrderLeg, Side
from contracts.events import OrderModified, parse_event
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, config_with, make_intent

BOT = "strategy"


class StopBroker(FakeBroker):
    """The fake broker with a modify that records stop moves and may refuse them."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.stop_moves: list[tuple[str, Decimal | None]] = []
        self.refuse_with: int | None = None

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        assert quantity is None and limit_price is None
        self.stop_moves.append((order_ref, stop_price))
        if self.refuse_with is not None:
            self.sink(
                ModifyRejected(
                    ts=self.clock.now(), order_ref=order_ref, code=self.refuse_with, reason="no"
                )
            )


async def bot_trade(
    tmp_path: Path,
    *,
    source: str = BOT,
    fill: int = 10,
    exits_need_approval: bool = False,
    broker: StopBroker | None = None,
) -> tuple[Engine, StopBroker, str]:
    """A bot's long 10 AAPL @ 100.00 with its stop at 99.90, `fill` contracts filled."""
    config = config_with()
    if exits_need_approval:
        config = config.model_copy(
            update={"strategy": config.strategy.model_copy(update={"exits_need_approval": True})}
        )
    clock = ManualClock()
    broker = broker or StopBroker(clock)
    engine = Engine(config, broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    intent = make_intent(clock, quantity=10, take_profit="100.30")
    assert (await engine.propose(intent, source)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    broker.fill(broker.submits[-1].order_ref, fill, "100.00")
    return engine, broker, intent.intent_id


def modifies(engine: Engine) -> list[OrderModified]:
    events = (parse_event(r.payload) for r in engine.store.tail(500))
    return [e for e in events if isinstance(e, OrderModified)]


async def test_a_stop_move_may_only_tighten(tmp_path: Path) -> None:
    engine, broker, iid = await bot_trade(tmp_path)
    widen = await engine.modify_stop(iid, Decimal("99.80"), "attack: widen")
    same = await engine.modify_stop(iid, Decimal("99.90"), "attack: no-op")
    assert not widen.ok and not same.ok
    assert broker.stop_moves == []
    assert "widen" in modifies(engine)[-1].reason and not modifies(engine)[-1].confirmed
    assert (await engine.modify_stop(iid, Decimal("100.00"), "break-even")).ok
    assert broker.stop_moves == [(order_ref_for(iid, OrderLeg.STOP_LOSS), Decimal("100.00"))]
    moved = modifies(engine)[-1]
    assert moved.confirmed and moved.stop_price == Decimal("100.00")
    assert moved.purpose.startswith("stop_move:")
    back = await engine.modify_stop(iid, Decimal("99.95"), "attack: back below break-even")
    assert not back.ok and len(broker.stop_moves) == 1
    await engine.stop()


async def test_the_stop_in_force_survives_a_restart(tmp_path: Path) -> None:
    engine, broker, iid = await bot_trade(tmp_path)
    assert (await engine.modify_stop(iid, Decimal("100.00"), "break-even")).ok
    await engine.stop()
    again = Engine(config_with(), broker, data_dir=tmp_path, clock=broker.clock)  # type: ignore[arg-type]
    await again.start()
    widen = await again.modify_stop(iid, Decimal("99.95"), "attack after restart")
    assert not widen.ok and "widen" in widen.message
    assert len(broker.stop_moves) == 1
    await again.stop()


async def test_a_stop_off_the_tick_or_while_halted_is_not_sent(tmp_path: Path) -> None:
    engine, broker, iid = await bot_trade(tmp_path)
    assert not (await engine.modify_stop(iid, Decimal("99.955"), "off tick")).ok
    await engine.kill("attack")
    assert not (await engine.modify_stop(iid, Decimal("100.00"), "halted")).ok
    assert broker.stop_moves == []
    await engine.stop()


async def test_a_refused_stop_move_keeps_the_old_stop_in_force(tmp_path: Path) -> None:
    engine, broker, iid = await bot_trade(tmp_path)
    broker.refuse_with = 104
    assert not (await engine.modify_stop(iid, Decimal("100.00"), "refused")).ok
    rec = engine.book.records[iid]
    assert engine.strategy_orders.stop_in_force(rec) == Decimal("99.90")
    await engine.stop()


async def test_an_exit_moves_the_stop_leg_through_the_market_without_a_new_order(
    tmp_path: Path,
) -> None:
    engine, broker, iid = await bot_trade(tmp_path)
    submits = len(broker.submits)
    broker.quote("AAPL", "100.04", "100.06")
    result = await engine.strategy_exit(iid, "time", "held 30 bars without progress")
    assert result.ok, result.message
    assert len(broker.submits) == submits  # no second order that could over-close
    assert broker.stop_moves == [(order_ref_for(iid, OrderLeg.STOP_LOSS), Decimal("100.06"))]
    bead = modifies(engine)[-1]
    assert bead.confirmed and bead.purpose.startswith("strategy_exit:time:")
    assert engine.pending_token(iid) is None
    await engine.stop()


async def test_an_exit_reason_outside_the_vocabulary_is_refused(tmp_path: Path) -> None:
    engine, broker, iid = await bot_trade(tmp_path)
    result = await engine.strategy_exit(iid, "because", "free text reason")
    assert not result.ok and "not one of" in result.message
    assert broker.stop_moves == []
    await engine.stop()


async def test_an_exit_into_a_bigger_position_is_refused(tmp_path: Path) -> None:
    """Each exit that would close more than the position (and so open the other way) stays home."""
    # The trader already sold half by hand: the 10-lot stop leg would go 5 short.
    engine, broker, iid = await bot_trade(tmp_path)
    manual = make_intent(
        broker.clock, side=Side.SELL, quantity=5, stop_loss=None, reduces_risk=True
    )  # type: ignore[arg-type]
    assert (await engine.propose(manual)).accepted
    assert (await approve_pending(engine, manual.intent_id)).ok
    broker.fill(broker.submits[-1].order_ref, 5, "100.02")
    refused = await engine.strategy_exit(iid, "thesis", "attack: close 10 of 5")
    assert not refused.ok and "smaller" in refused.message
    assert broker.stop_moves == []
    await engine.stop()


async def test_an_exit_of_a_closed_partial_or_foreign_trade_is_refused(tmp_path: Path) -> None:
    # The trade already stopped out: nothing is open, an "exit" would open a short.
    engine, broker, iid = await bot_trade(tmp_path / "closed")
    broker.fill(order_ref_for(iid, OrderLeg.STOP_LOSS), 10, "99.90")  # the listed stop
    assert engine.book.records[iid].state is LifecycleState.CLOSED
    closed = await engine.strategy_exit(iid, "time", "attack: exit a closed trade")
    assert not closed.ok and broker.stop_moves == []
    await engine.stop()

    engine, broker, iid = await bot_trade(tmp_path / "partial", fill=4)
    partial = await engine.strategy_exit(iid, "time", "attack: 10-lot stop on a 4-lot position")
    assert not partial.ok and "exit refused" in partial.message
    assert (await engine.cancel(iid, "the rest is not wanted")).ok
    # The rest cancelled, the bracket's exits work on for the 4 that filled (MANAGED): the
    # engine still knows them as the 10-lot legs it sent, so the exit is still refused.
    assert engine.book.records[iid].state is LifecycleState.MANAGED
    partial = await engine.strategy_exit(iid, "time", "attack: 10-lot stop on a 4-lot position")
    assert not partial.ok and "exit refused" in partial.message
    assert broker.stop_moves == []
    await engine.stop()

    engine, broker, iid = await bot_trade(tmp_path / "trader", source="console")
    assert not (await engine.strategy_exit(iid, "time", "attack: the trader's trade")).ok
    assert not (await engine.modify_stop(iid, Decimal("100.00"), "the trader's stop")).ok
    assert broker.stop_moves == []
    await engine.stop()


async def test_exits_need_approval_makes_the_exit_a_normal_approval(tmp_path: Path) -> None:
    engine, broker, iid = await bot_trade(tmp_path, exits_need_approval=True)
    submits = len(broker.submits)
    result = await engine.strategy_exit(iid, "volatility", "a 3-ATR bar against the trade")
    assert result.ok, result.message
    exit_id = f"x-{iid}"
    rec = engine.book.records[exit_id]
    assert rec.intent.reduces_risk and rec.intent.order.side is Side.SELL
    assert rec.intent.order.quantity == 10 and rec.state is LifecycleState.PROPOSED
    assert engine.pending_token(exit_id) is not None  # it waits for the trader's token
    assert len(broker.submits) == submits and broker.stop_moves == []
    await engine.stop()


async def test_a_stop_gone_at_the_broker_is_not_moved_and_the_exit_asks_the_trader(
    tmp_path: Path,
) -> None:
    """The broker cancelled the trade's stop (heard): a stop move would modify an order that is
    not there, and an exit has no stop leg to push through the market. The move is refused;
    the exit becomes a closing order waiting for the trader's token (before: both went to the
    broker as modifies of the cancelled stop, and the position stayed open)."""
    engine, broker, iid = await bot_trade(tmp_path)
    broker.cancel_exits(iid, OrderLeg.STOP_LOSS)
    assert engine.book.records[iid].state is LifecycleState.FILLED  # unprotected
    moved = await engine.modify_stop(iid, Decimal("100.00"), "breakeven")
    assert not moved.ok and "no longer at the broker" in moved.message
    submits = len(broker.submits)
    result = await engine.strategy_exit(iid, "time", "held 30 bars without progress")
    assert result.ok, result.message
    assert broker.stop_moves == []
    exit_rec = engine.book.records[f"x-{iid}"]
    assert exit_rec.intent.reduces_risk and exit_rec.state is LifecycleState.PROPOSED
    assert len(broker.submits) == submits  # nothing leaves without the trader's token
    await engine.stop()
