"""Orders placed across 50 restarts of the engine on one gateway: no order id repeats (no 103)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from console.drills.crash_harness import ACCOUNT, CLIENT_ID, SYMBOL, harness_config, harness_intent
from contracts.enums import LifecycleState
from engine.engine import Engine
from tests.support import approve_pending, eventually

RESTARTS = 50


async def test_fifty_restarts_never_reuse_an_order_id(tmp_path: Path) -> None:
    async with running_gateway(seed=3) as gateway:
        venue = gateway.venue
        base = harness_config(tmp_path, gateway.port)
        risk = base.risk.model_copy(update={"daily_loss_limit": Decimal(10**6)})
        config = base.model_copy(update={"risk": risk})  # commissions add up over 50 trades
        for n in range(RESTARTS):
            broker = IbkrBroker(
                "127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5, request_timeout_s=5
            )
            engine = Engine(config, broker, data_dir=tmp_path)
            await engine.start()
            ask = venue.quote(SYMBOL).ask
            intent = harness_intent(f"restart-{n:02d}", ask, 1, engine.clock.now())
            offered = await engine.propose(intent)
            assert offered.accepted, offered.message
            result = await approve_pending(engine, intent.intent_id)
            assert result.ok, result.message
            await eventually(
                lambda e=engine, i=intent.intent_id: (
                    e.book.records[i].state in (LifecycleState.FILLED, LifecycleState.MANAGED)
                )
            )
            await engine.stop()
            engine.store.close()
            await eventually(lambda: CLIENT_ID not in gateway.connected_clients())
        orders = venue.orders(ACCOUNT)
        entries = [o for o in orders if o.order_ref.endswith(":ENTRY")]
        assert len(entries) == RESTARTS
        ids = Counter((o.client_id, o.order_id) for o in orders)
        assert [key for key, count in ids.items() if count > 1] == []
        refs = Counter(o.order_ref for o in orders)
        assert [ref for ref, count in refs.items() if count > 1] == []
        engine = Engine(config, IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID), data_dir=tmp_path)
        engine.store.flush()
        rejects = [r.payload for r in engine.store.rows() if r.kind == "BROKER_REJECT"]
        assert not [p for p in rejects if '"code":103' in p.replace(" ", "")]
        assert sum(o.quantity for o in entries) == Decimal(RESTARTS)
        engine.store.close()
