"""Issue 16 end to end: Engine -> IbkrBroker (real ib_async) -> gateway, on IB's moments."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, Stock

from broker.gateway import messages as msg
from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from contracts.enums import AlertLevel, DenialReason, LifecycleState
from engine.engine import Engine
from engine.previews import PreviewStatus
from tests.support import approve_pending, config_with, eventually, make_intent

CLIENT_ID = 12
READ_ONLY_TEXT = (
    "Error validating request.-'bN' : cause - The API interface is currently in Read-Only mode."
)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[tuple[GatewayServer, Engine]]:
    async with running_gateway(seed=5) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5)
        config = config_with(max_trades_per_day=1, max_position=Decimal(100_000))
        engine = Engine(config, broker, data_dir=tmp_path)
        await engine.start()
        await engine.watch_quote(make_intent(engine.clock).order.instrument)
        yield gateway, engine
        await engine.stop()


async def resting_intent(gateway: GatewayServer, engine: Engine) -> str:
    """Proposed (not yet approved): a limit buy 50 cents under the bid."""
    q = gateway.venue.quote("AAPL")
    gateway.venue.set_price("AAPL", q.bid, q.ask)
    bid = q.bid
    intent = make_intent(
        engine.clock, limit=str(bid - Decimal("0.50")), stop_loss=str(bid - Decimal("0.60"))
    )
    result = await engine.propose(intent)
    assert result.accepted, result.message
    return intent.intent_id


def preview_answered(engine: Engine, intent_id: str) -> bool:
    """The whatIf preview of the pending approval came back (the order itself has not left)."""
    preview = engine.previews.get(intent_id)
    return preview is not None and preview.status is not PreviewStatus.PENDING


def audit_kinds(engine: Engine) -> list[tuple[str, str | None]]:
    engine.store.flush()
    return [(r.kind, json.loads(r.payload).get("reason")) for r in engine.store.rows()]


async def test_a_1100_is_alerted_within_five_seconds_on_the_engine_clock(
    desk: tuple[GatewayServer, Engine],
) -> None:
    gateway, engine = desk
    before = engine.clock.now()
    gateway.faults.connectivity_lost()
    await eventually(lambda: any(a.code == "CONNECTIVITY" for a in engine.book.alerts))
    alert = next(a for a in engine.book.alerts if a.code == "CONNECTIVITY")
    assert alert.level is AlertLevel.CRITICAL
    assert alert.ts_event - before <= timedelta(seconds=5)


async def test_after_a_1101_the_engine_reconciles_before_the_next_order_leaves(
    desk: tuple[GatewayServer, Engine],
) -> None:
    gateway, engine = desk
    intent_id = await resting_intent(gateway, engine)
    gateway.faults.connectivity_lost()
    await eventually(lambda: not engine.connected)
    gateway.faults.connectivity_restored(data_lost=True)
    await eventually(lambda: engine.connected)
    assert (await approve_pending(engine, intent_id)).ok
    kinds = audit_kinds(engine)
    submitted = kinds.index(("SUBMITTING", None))
    assert ("RECONCILED", "reconnect") in kinds[:submitted]


async def test_after_a_socket_reconnect_the_engine_reconciles_before_the_next_order(
    desk: tuple[GatewayServer, Engine],
) -> None:
    gateway, engine = desk
    intent_id = await resting_intent(gateway, engine)
    gateway.faults.drop_connections(CLIENT_ID)
    await eventually(lambda: not engine.connected)
    await eventually(lambda: engine.connected, timeout=15)
    assert (await approve_pending(engine, intent_id)).ok
    kinds = audit_kinds(engine)
    submitted = kinds.index(("SUBMITTING", None))
    assert ("RECONCILED", "reconnect") in kinds[:submitted]


async def test_a_read_only_api_disables_entry_and_the_refused_order_is_not_a_trade(
    desk: tuple[GatewayServer, Engine],
) -> None:
    gateway, engine = desk
    (session,) = [s for s in gateway.sessions if s.client_id == CLIENT_ID]

    def refuse(fields: list[str]) -> None:
        session.send(msg.error(int(fields[1]), 321, READ_ONLY_TEXT))

    intent_id = await resting_intent(gateway, engine)
    await eventually(lambda: preview_answered(engine, intent_id))
    session._handlers[3] = refuse  # placeOrder answered as TWS with "Read-Only API" does
    assert (await approve_pending(engine, intent_id)).ok
    await eventually(lambda: engine.snapshot().order_entry_refused is not None)
    await eventually(lambda: engine.book.records[intent_id].state is LifecycleState.REJECTED)
    snap = engine.snapshot()
    assert "Read-Only" in (snap.order_entry_refused or "")
    assert snap.trades_today == 0  # max_trades_per_day is 1: the day's trade is still there
    q = gateway.venue.quote("AAPL")
    again = make_intent(
        engine.clock, limit=str(q.bid - Decimal("0.50")), stop_loss=str(q.bid - Decimal("0.60"))
    )
    result = await engine.propose(again)
    assert DenialReason.ORDER_ENTRY_REFUSED in [d.reason for d in result.denials]


async def test_kill_with_foreign_orders_confirms_only_when_the_account_has_none_working(
    tmp_path: Path,
) -> None:
    """20 deskgate orders and 5 of another API client: broker-confirmed means all 25 are gone.

    Prints the time from the kill to the broker's confirmation (checklist row 17/22 figure):
    `pytest -s -k foreign_orders_confirms tests/integration/engine/test_reliability_gateway.py`
    """
    async with running_gateway(seed=9) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5)
        config = config_with(
            max_trades_per_day=1000, max_position=Decimal(100_000), max_working_orders=20
        )  # IB allows 20 per contract and side
        engine = Engine(config, broker, data_dir=tmp_path)
        await engine.start()
        other = IB()
        await other.connectAsync("127.0.0.1", gateway.port, clientId=77, timeout=5)
        try:
            await engine.watch_quote(make_intent(engine.clock).order.instrument)
            bid = gateway.venue.quote("AAPL").bid
            for i in range(20):
                gateway.venue.set_price("AAPL", bid, gateway.venue.quote("AAPL").ask)
                intent = make_intent(
                    engine.clock,
                    quantity=1 + i,
                    limit=str(bid - Decimal("0.50")),
                    stop_loss=str(bid - Decimal("0.60")),
                )
                assert (await engine.propose(intent)).accepted
                assert (await approve_pending(engine, intent.intent_id)).ok
            foreign = [
                other.placeOrder(
                    Stock("AAPL", "SMART", "USD"), LimitOrder("BUY", 1 + i, float(bid - 2))
                )
                for i in range(5)
            ]
            await eventually(lambda: all(t.orderStatus.permId for t in foreign))
            await eventually(lambda: len(gateway.venue.orders(open_only=True)) >= 25)
            started = time.perf_counter()
            assert (await engine.kill("foreign-orders drill")).ok
            await eventually(lambda: engine.book.kill_confirmed is True, timeout=30)
            elapsed = time.perf_counter() - started
            assert gateway.venue.orders(open_only=True) == []
            print(f"\nkill -> broker-confirmed zero (20 own + 5 foreign): {elapsed * 1000:.0f} ms")
        finally:
            other.disconnect()
            await engine.stop()
