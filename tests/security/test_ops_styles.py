"""Attacks on execution styles: a style step never leaves past the approval, HALTED, or twice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.broker import ModifyRejected
from contracts.enums import OrderType, TradingState
from contracts.events import OrderModified, parse_event
from contracts.intent import ExecutionStyle, OrderParams
from engine.clock import ManualClock
from engine.engine import Engine
from tests.support import FakeBroker, approve_pending, config_with, make_intent


class ModifyingBroker(FakeBroker):
    """The fake broker with a modify that records calls and may refuse them (IB 104/105)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.modifies: list[tuple[str, Decimal | None, Decimal | None]] = []
        self.refuse_with: int | None = None

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        self.modifies.append((order_ref, quantity, limit_price))
        if self.refuse_with is not None:
            self.sink(
                ModifyRejected(
                    ts=self.clock.now(), order_ref=order_ref, code=self.refuse_with, reason="no"
                )
            )


async def styled(
    tmp_path: Path, kind: str = "limit_patience"
) -> tuple[Engine, ModifyingBroker, str]:
    clock = ManualClock()
    broker = ModifyingBroker(clock)
    engine = Engine(config_with(require_stop=False), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    base = make_intent(clock, quantity=10, stop_loss=None)
    style = ExecutionStyle(
        kind=kind,  # type: ignore[arg-type]
        reprice_every_s=300.0,
        max_reprices=10,
        worst_price=Decimal("100.02"),
        window_s=3000.0,
        slices=5,
    )
    order = OrderParams(
        instrument=base.order.instrument,
        side=base.order.side,
        quantity=Decimal(10),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("99.95"),
        execution=style,
    )
    intent = base.model_copy(update={"order": order})
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    return engine, broker, intent.intent_id


def steps(engine: Engine) -> list[OrderModified]:
    events = (parse_event(r.payload) for r in engine.store.tail(500))
    return [e for e in events if isinstance(e, OrderModified)]


async def test_a_step_past_the_worst_price_is_never_sent(tmp_path: Path) -> None:
    engine, broker, iid = await styled(tmp_path)
    assert not await engine.styles.modify_entry(iid, limit_price=Decimal("100.03"))
    assert broker.modifies == []
    assert "past the approved worst price" in steps(engine)[-1].reason
    await engine.stop()


async def test_a_step_above_the_approved_quantity_is_never_sent(tmp_path: Path) -> None:
    engine, broker, iid = await styled(tmp_path, "twap")
    assert broker.submits[-1].quantity == 2  # the first slice only
    ok = await engine.styles.modify_entry(iid, limit_price=Decimal("99.95"), quantity=Decimal(11))
    assert not ok and broker.modifies == []
    await engine.stop()


async def test_nothing_is_sent_once_halted_and_the_kill_stops_the_style(tmp_path: Path) -> None:
    engine, broker, iid = await styled(tmp_path)
    assert iid in engine.styles.working
    await engine.kill("attack")
    assert engine.book.trading_state is TradingState.HALTED
    assert engine.styles.working == ()
    assert not await engine.styles.modify_entry(iid, limit_price=Decimal("100.00"))
    assert broker.modifies == []
    await engine.stop()


async def test_a_refused_modify_leaves_the_order_as_it_was(tmp_path: Path) -> None:
    engine, broker, iid = await styled(tmp_path, "twap")
    broker.refuse_with = 104
    ok = await engine.styles.modify_entry(iid, limit_price=Decimal("100.00"), quantity=Decimal(4))
    assert not ok
    assert len(broker.modifies) == 1
    last = steps(engine)[-1]
    assert not last.confirmed and "104" in last.reason
    assert engine.styles.entry_working(iid)
    broker.fill(broker.submits[-1].order_ref, 2, "99.95")  # the first slice, still all there is
    assert not engine.styles.entry_working(iid)
    assert engine.styles.progress[iid].steps == 0
    await engine.stop()
