"""The whole path, as deskgate runs it: Engine -> IbkrBroker (real ib_async) -> gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, Stock

from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from contracts.broker import BrokerEvent, PacingViolation, order_ref_for
from contracts.enums import DriftType, LifecycleState, OrderLeg, OrderType, TradingState
from contracts.events import ReconciliationRun
from engine.engine import Engine
from tests.support import approve_pending, config_with, eventually, make_intent

CLIENT_ID = 11


@dataclass
class Desk:
    gateway: GatewayServer
    broker: IbkrBroker
    engine: Engine
    pacing: list[BrokerEvent]

    def quote(self) -> tuple[Decimal, Decimal]:
        q = self.gateway.venue.quote("AAPL")
        self.gateway.venue.set_price("AAPL", q.bid, q.ask)  # re-sent: a fresh tick
        return q.bid, q.ask

    def at_venue(self, ref: str) -> list[object]:
        return [o for o in self.gateway.venue.orders() if o.order_ref == ref]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_gateway(seed=3) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5)
        config = config_with(
            max_trades_per_day=1000, max_position=Decimal(100_000), max_working_orders=20
        )
        config = config.model_copy(
            update={"risk": config.risk.model_copy(update={"duplicate_window_s": 0.0})}
        )
        engine = Engine(config, broker, data_dir=tmp_path)
        pacing: list[BrokerEvent] = []
        sink = broker._link.sink  # the engine's sink; keep a copy of pacing events for the asserts

        def spy(event: BrokerEvent) -> None:
            if isinstance(event, PacingViolation):
                pacing.append(event)
            assert sink is not None
            sink(event)

        broker.set_event_sink(spy)
        await engine.start()
        desk = Desk(gateway, broker, engine, pacing)
        await engine.watch_quote(make_intent(engine.clock).order.instrument)
        yield desk
        await engine.stop()


async def resting_order(desk: Desk, quantity: int = 10) -> str:
    """A limit buy 50 cents under the bid: acked, working, not filled."""
    bid, _ = desk.quote()
    intent = make_intent(
        desk.engine.clock,
        quantity=quantity,
        limit=str(bid - Decimal("0.50")),
        stop_loss=str(bid - Decimal("0.60")),
    )
    result = await desk.engine.propose(intent)
    assert result.accepted, result.message
    assert (await approve_pending(desk.engine, intent.intent_id)).ok
    return intent.intent_id


async def marketable_order(
    desk: Desk, stop_under_ask: str, target_over_ask: str | None = None
) -> str:
    """A limit buy of 10 two cents over the ask (it fills), its bracket stop `stop_under_ask`
    under the ask (and its target `target_over_ask` over it): proposed and approved; its
    intent id."""
    _, ask = desk.quote()
    intent = make_intent(
        desk.engine.clock,
        quantity=10,
        limit=str(ask + Decimal("0.02")),
        stop_loss=str(ask - Decimal(stop_under_ask)),
        take_profit=None if target_over_ask is None else str(ask + Decimal(target_over_ask)),
    )
    assert (await desk.engine.propose(intent)).accepted
    assert (await approve_pending(desk.engine, intent.intent_id)).ok
    return intent.intent_id


async def test_propose_approve_ack_partial_fill_fill_position(desk: Desk) -> None:
    desk.gateway.faults.partial_fill_next_orders(1)
    rec = desk.engine.book.records[await marketable_order(desk, "0.08")]
    await eventually(lambda: rec.acked_at is not None and rec.perm_id)
    await eventually(lambda: 0 < rec.entry_filled < 10)
    assert rec.state is LifecycleState.SUBMITTED  # partially filled, still working
    desk.gateway.venue.step("AAPL")  # the rest fills on the next quote
    desk.quote()
    await eventually(lambda: rec.entry_filled == 10)
    assert rec.state is LifecycleState.MANAGED  # filled, bracket stop working at the broker
    assert desk.engine.book.positions["AAPL"].quantity == 10
    positions = {p.instrument.symbol: p.quantity for p in await desk.broker.positions()}
    assert positions["AAPL"] == 10
    assert desk.engine.store.verify().ok


async def test_broker_rejection_is_final_with_an_alert_and_no_retry(desk: Desk) -> None:
    desk.gateway.faults.reject_next_orders(1)
    intent_id = await resting_order(desk)
    rec = desk.engine.book.records[intent_id]
    await eventually(lambda: rec.state is LifecycleState.REJECTED)
    assert any(a.code == "REJECTED" for a in desk.engine.book.alerts)
    assert len(desk.at_venue(f"dg:{intent_id}:ENTRY")) == 1  # sent once, never retried


async def test_cancel_is_confirmed_by_the_broker(desk: Desk) -> None:
    intent_id = await resting_order(desk)
    rec = desk.engine.book.records[intent_id]
    await eventually(lambda: rec.acked_at is not None)
    result = await desk.engine.cancel(intent_id, "changed my mind")
    assert result.ok, result.message
    await eventually(lambda: rec.state is LifecycleState.CANCELLED)
    assert not [o for o in desk.gateway.venue.orders() if o.is_open]


async def test_kill_with_20_working_orders_is_confirmed_by_the_broker(desk: Desk) -> None:
    ids = [await resting_order(desk, quantity=1 + i % 3) for i in range(20)]
    await eventually(lambda: sum(o.is_open for o in desk.gateway.venue.orders()) >= 20)
    await desk.engine.kill("integration: kill with 20 working")
    await eventually(lambda: desk.engine.book.kill_confirmed is True, timeout=15)
    assert not [o for o in desk.gateway.venue.orders() if o.is_open]
    assert await desk.broker.open_orders() == []
    assert all(desk.engine.book.records[i].state is LifecycleState.CANCELLED for i in ids)
    assert desk.engine.book.trading_state is TradingState.HALTED


async def test_disconnect_mid_order_resyncs_with_no_lost_fill(desk: Desk) -> None:
    intent_id = await resting_order(desk)
    rec = desk.engine.book.records[intent_id]
    await eventually(lambda: rec.acked_at is not None)
    order_id = rec.broker_order_id
    assert order_id is not None
    desk.gateway.faults.drop_connections()
    await eventually(lambda: not desk.engine.connected)
    desk.gateway.faults.fill_order(CLIENT_ID, order_id)  # fills while deskgate is away
    # Recovered during the resync, which finishes before the adapter says it is connected.
    await eventually(lambda: rec.entry_filled == 10, timeout=30)
    await eventually(lambda: desk.engine.connected, timeout=30)
    assert rec.state in (LifecycleState.FILLED, LifecycleState.MANAGED)
    assert desk.engine.book.positions["AAPL"].quantity == 10


@pytest.mark.slow
async def test_200_approvals_in_a_burst_draw_no_pacing_violation(desk: Desk) -> None:
    risk = desk.engine.config.risk.model_copy(update={"max_working_orders": 1000})
    desk.engine.config = desk.engine.config.model_copy(update={"risk": risk})  # pacing, not caps
    bid, _ = desk.quote()
    intents = [
        make_intent(
            desk.engine.clock,
            quantity=1,
            order_type=OrderType.LIMIT,
            limit=str(bid - Decimal("1.00") - Decimal(i) / 100),
            stop_loss=str(bid - Decimal("1.10") - Decimal(i) / 100),
        )
        for i in range(200)
    ]
    for intent in intents:
        assert (await desk.engine.propose(intent)).accepted
    results = []
    for n, intent in enumerate(intents):
        if n % 20 == 0:
            desk.quote()  # the market keeps ticking while 200 orders go out at 45/s
            iid = intent.intent_id
            await eventually(lambda iid=iid: desk.engine.can_approve(iid).ok)
        results.append(await approve_pending(desk.engine, intent.intent_id))
    assert all(r.ok for r in results), [r.message for r in results if not r.ok][:3]
    await eventually(
        lambda: all(desk.engine.book.records[i.intent_id].acked_at for i in intents), timeout=30
    )
    assert desk.pacing == []
    assert len({o.order_ref for o in desk.gateway.venue.orders()}) >= 200


async def test_an_order_of_another_api_client_is_foreign_drift_after_reconcile(
    desk: Desk,
) -> None:
    other = IB()
    await other.connectAsync("127.0.0.1", desk.gateway.port, clientId=77, timeout=5)
    try:
        bid, _ = desk.quote()
        trade = other.placeOrder(
            Stock("AAPL", "SMART", "USD"), LimitOrder("BUY", 3, float(bid - Decimal("2")))
        )
        await eventually(lambda: trade.orderStatus.permId)
        result = await desk.engine.reconcile("trader pressed R")
        assert result.ok, result.message
        foreign = [
            d for d in desk.engine.book.drifts.values() if d.drift_type is DriftType.FOREIGN_ORDER
        ]
        assert len(foreign) == 1
        assert str(trade.orderStatus.permId) in foreign[0].subject
    finally:
        other.disconnect()


async def test_a_socket_reconnect_triggers_a_reconciliation(desk: Desk) -> None:
    def runs() -> list[str]:
        desk.engine.store.flush()
        return [e.reason for e in desk.engine.store.events() if isinstance(e, ReconciliationRun)]

    before = runs().count("reconnect")
    desk.gateway.faults.drop_connections()
    await eventually(lambda: not desk.engine.connected)
    await eventually(lambda: desk.engine.connected, timeout=30)
    await eventually(lambda: runs().count("reconnect") > before, timeout=10)


async def test_a_stop_the_broker_dropped_unheard_is_drift_at_the_next_reconciliation(
    desk: Desk,
) -> None:
    """The gateway takes the position's bracket stop off its book and tells no client: only
    the reconciliation's open-orders answer (reqAllOpenOrders, real ib_async) shows it gone."""
    iid = await marketable_order(desk, "0.10")
    rec = desk.engine.book.records[iid]
    await eventually(lambda: rec.state is LifecycleState.MANAGED)
    agreed = await desk.engine.reconcile("periodic")
    assert agreed.message == "reconciled: engine and broker agree", agreed.message

    desk.gateway.faults.lose_order(order_ref_for(iid, OrderLeg.STOP_LOSS))
    await desk.engine.reconcile("periodic")
    (drift,) = desk.engine.book.drifts.values()
    assert drift.drift_type is DriftType.EXIT_MISSING_AT_BROKER
    assert drift.broker_state == {"missing": "stop"} and drift.severity.value == "CRITICAL"
    assert rec.state is LifecycleState.MANAGED  # heard nothing, corrected nothing
    assert desk.engine.book.trading_state is TradingState.REDUCING


async def test_a_target_cancelled_at_the_venue_leaves_the_stop_protecting_the_position(
    desk: Desk,
) -> None:
    """The target cancelled there (as if typed in TWS), its status heard over the wire: the
    engine records that leg gone and stays MANAGED under the stop; nothing is drift."""
    iid = await marketable_order(desk, "0.10", target_over_ask="0.50")
    rec = desk.engine.book.records[iid]
    await eventually(lambda: rec.state is LifecycleState.MANAGED)
    (target,) = desk.at_venue(order_ref_for(iid, OrderLeg.TAKE_PROFIT))
    desk.gateway.venue.cancel(target.perm_id, "cancelled in TWS")  # type: ignore[attr-defined]
    await eventually(lambda: OrderLeg.TAKE_PROFIT in rec.exits_gone)
    assert rec.state is LifecycleState.MANAGED
    (stop,) = desk.at_venue(order_ref_for(iid, OrderLeg.STOP_LOSS))
    assert stop.is_open  # type: ignore[attr-defined]
    agreed = await desk.engine.reconcile("periodic")
    assert agreed.message == "reconciled: engine and broker agree", agreed.message
    assert desk.engine.book.trading_state is TradingState.ACTIVE
