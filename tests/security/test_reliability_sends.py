"""Attacks on the send path around IB's moments: reconnects and the nightly reset."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from contracts.broker import BrokerDisconnected, BrokerPosition, ConnectivityChanged
from contracts.enums import DenialReason
from contracts.intent import Instrument
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

TUESDAY_2344_ET = datetime(2026, 11, 24, 4, 44, tzinfo=UTC)


class SlowPositionsBroker(FakeBroker):
    """Holds the reconciliation's position request until the test lets it go."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.hold = False
        self.release = asyncio.Event()
        self.position_requests = 0

    async def positions(self) -> list[BrokerPosition]:
        self.position_requests += 1
        if self.hold:
            await self.release.wait()
        return await super().positions()


async def test_a_reconnect_reconciles_before_any_new_order_is_sent(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = SlowPositionsBroker(clock)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    broker._connected = False
    broker.push(BrokerDisconnected(ts=clock.now(), reason="socket reset"))
    broker.hold = True
    asked = broker.position_requests
    await broker.connect()
    broker.push(ConnectivityChanged(ts=clock.now(), connected=True, data_lost=True))
    approving = asyncio.create_task(approve_pending(engine, intent.intent_id))
    await eventually(lambda: broker.position_requests > asked)
    for _ in range(20):
        await asyncio.sleep(0)  # let the approval run as far as it can
    assert broker.submits == []
    broker.release.set()
    assert (await approving).ok
    engine.store.flush()
    kinds = [(r.kind, json.loads(r.payload).get("reason")) for r in engine.store.rows()]
    reconciled = kinds.index(("RECONCILED", "reconnect"))
    submitted = next(i for i, (kind, _) in enumerate(kinds) if kind == "SUBMITTING")
    assert reconciled < submitted
    await engine.stop()


async def test_a_token_approved_just_before_the_reset_sends_nothing_inside_it(
    tmp_path: Path,
) -> None:
    clock = ManualClock(TUESDAY_2344_ET)
    base = config_with()
    config = base.model_copy(update={"hours": base.hours.model_copy(update={"calendar": "on"})})
    engine, broker, _ = await started_engine(tmp_path, config, clock)
    es = Instrument(symbol="MES", sec_type="FUT", exchange="CME", expiry="202612")
    intent = make_intent(clock, symbol="MES")
    intent = intent.model_copy(update={"order": intent.order.model_copy(update={"instrument": es})})
    broker.quote("MES", "99.99", "100.01")
    assert (await engine.propose(intent)).accepted
    clock.advance(120)  # 23:46 ET: inside IB's nightly reset
    broker.quote("MES", "99.99", "100.01")
    result = await approve_pending(engine, intent.intent_id)
    assert not result.ok and result.code == DenialReason.RESET_WINDOW
    assert broker.submits == []
    await engine.stop()
