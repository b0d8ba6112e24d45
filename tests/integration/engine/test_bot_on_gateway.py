"""The bot end to end: gateway -> real ib_async adapter -> Engine bus -> K1–K5 plugin -> intent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from contracts.broker import BarUpdated
from contracts.enums import LifecycleState
from contracts.intent import Intent
from contracts.market import Bar
from contracts.strategy import StrategyConfig
from engine.bus import Subscription
from engine.clock import ManualClock
from engine.engine import Engine
from engine.results import ProposalResult
from engine.strategy.plugin import make_plugin
from engine.strategy.records import DecisionRecord
from engine.strategy.store import records_from_beads
from tests.support import approve_pending, config_with, eventually
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import RTH_OPEN

SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
"""The venue's own bar stream is quiet (no session): the test's bars are the only ones."""


def five_second_bars(minute: object) -> list[Bar]:
    """One 1-minute scene bar as the twelve 5-second bars a real-time subscription delivers."""
    m = minute
    out = []
    for i in range(12):
        price = m.close if i == 11 else m.open  # type: ignore[attr-defined]
        high = m.high if i == 5 else max(m.open, m.close)  # type: ignore[attr-defined]
        low = m.low if i == 6 else min(m.open, m.close)  # type: ignore[attr-defined]
        out.append(
            Bar(
                symbol="MES",
                ts=m.ts + timedelta(seconds=5 * i),  # type: ignore[attr-defined]
                seconds=5,
                open=Decimal(str(m.open if i == 0 else price)),  # type: ignore[attr-defined]
                high=Decimal(str(high)),
                low=Decimal(str(low)),
                close=Decimal(str(price)),
                volume=Decimal(str(m.volume / 12)),  # type: ignore[attr-defined]
            )
        )
    return out


async def arrival(sub: Subscription, bar: Bar) -> None:
    """Wait until `bar` is on the engine's bus (the adapter delivered it)."""
    while True:
        item = await sub.get()
        if isinstance(item, BarUpdated) and item.bar.ts == bar.ts:
            return


async def test_the_bot_reads_gateway_bars_journals_and_proposes_an_mes_intent(
    tmp_path: Path,
) -> None:
    async with running_gateway(seed=5, clock_start=SATURDAY) as gateway:
        clock = ManualClock(RTH_OPEN - timedelta(seconds=5))
        broker = IbkrBroker("127.0.0.1", gateway.port, 13, connect_timeout_s=5, clock=clock)
        engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
        gateway.venue.set_price("MES", Decimal("5000.00"), Decimal("5000.25"))
        await engine.start()
        plugin = make_plugin(StrategyConfig(), "K1,K2,K3,K4,K5", "MES")
        proposed: list[tuple[Intent, ProposalResult]] = []

        async def propose(intent: Intent, source: str) -> ProposalResult:
            result = await engine.propose(intent, source)
            proposed.append((intent, result))
            return result

        task = asyncio.create_task(plugin(propose, engine))
        try:
            await eventually(lambda: "MES" in gateway.bars.symbols, timeout=10)
            seen = engine.bus.subscribe(10_000)
            for minute in scenes.k3_sweep_low():
                for b in five_second_bars(minute):
                    clock.advance(5)
                    gateway.venue.set_price("MES", b.close, b.close + Decimal("0.25"))
                    for listener in list(gateway.bars._listeners["MES"]):
                        listener(b)
                    await asyncio.wait_for(arrival(seen, b), 5)  # through the adapter, in order
            await eventually(lambda: proposed, timeout=15)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        ((intent, result),) = proposed
        assert result.accepted, result.message
        assert engine.book.records[intent.intent_id].state is LifecycleState.PROPOSED
        order = intent.order
        assert order.instrument.symbol == "MES" and order.instrument.multiplier == 5
        assert intent.evidence.risk_parameters["risk_usd"] <= 15
        engine.recorder.flush()
        records = list(records_from_beads(engine.strategy_rows()))
        decisions = [r for r in records if isinstance(r, DecisionRecord)]
        assert {d.strategy for d in decisions} >= {"K3"}
        assert any(d.action == "ENTER" and "K3" in d.text for d in decisions)
        assert (await approve_pending(engine, intent.intent_id)).ok
        ref = f"dg:{intent.intent_id}:ENTRY"
        await eventually(lambda: [o for o in gateway.venue.orders() if o.order_ref == ref])
        assert engine.store.verify().ok
        await engine.stop()
