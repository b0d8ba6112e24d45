"""A stop the broker no longer works cannot be covered by someone else's order carrying its
orderRef. Engine -> IbkrBroker (real ib_async) -> gateway.

IB's orderRef is free text: TWS or another API client on the account can type `dg:<id>:SL`.
Before, reconciliation never looked for a managed position's missing stop at all; now it does,
and an order deskgate did not place is shown under a foreign label (never parsed as deskgate's),
so it neither stands in for the lost stop nor passes unseen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from contracts.broker import order_ref_for
from contracts.enums import DriftSeverity, DriftType, LifecycleState, OrderLeg, Side
from contracts.events import DriftDetected
from engine.engine import Engine
from tests.support import approve_pending, config_with, eventually, make_intent

CLIENT_ID = 14


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[tuple[GatewayServer, Engine]]:
    async with running_gateway(seed=3) as gateway:
        broker = IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5)
        engine = Engine(config_with(max_trades_per_day=10), broker, data_dir=tmp_path)
        await engine.start()
        await engine.watch_quote(make_intent(engine.clock).order.instrument)
        yield gateway, engine
        await engine.stop()


async def test_an_order_typed_with_the_stops_ref_does_not_cover_the_lost_stop(
    desk: tuple[GatewayServer, Engine],
) -> None:
    gateway, engine = desk
    ask = gateway.venue.quote("AAPL").ask
    intent = make_intent(
        engine.clock, limit=str(ask + Decimal("0.02")), stop_loss=str(ask - Decimal("0.10"))
    )
    assert (await engine.propose(intent)).accepted
    assert (await approve_pending(engine, intent.intent_id)).ok
    rec = engine.book.records[intent.intent_id]
    await eventually(lambda: rec.state is LifecycleState.MANAGED)
    stop_ref = order_ref_for(intent.intent_id, OrderLeg.STOP_LOSS)

    gateway.faults.lose_order(stop_ref)
    spoof = gateway.faults.place_manual_order(
        "AAPL", Side.SELL, Decimal(10), limit_price=ask + Decimal(5), order_ref=stop_ref
    )
    await engine.reconcile("periodic")  # the typed order's own news may make it compare again

    def drifts() -> dict[DriftType, DriftDetected]:
        return {d.drift_type: d for d in engine.book.drifts.values()}

    await eventually(
        lambda: {DriftType.EXIT_MISSING_AT_BROKER, DriftType.FOREIGN_ORDER} <= set(drifts())
    )
    lost = drifts()[DriftType.EXIT_MISSING_AT_BROKER]
    assert lost.severity is DriftSeverity.CRITICAL and lost.broker_state == {"missing": "stop"}
    foreign = drifts()[DriftType.FOREIGN_ORDER]
    assert f"perm {spoof.perm_id}" in foreign.subject and foreign.subject != stop_ref
