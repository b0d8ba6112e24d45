"""A kill thrown while orders wait for a send slot: nothing queued leaves, the cancel goes first."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from contracts.enums import LifecycleState
from engine.clock import SystemClock
from engine.throttle import OutboundThrottle
from tests.support import config_with, eventually, make_intent, started_engine


async def test_orders_queued_behind_the_throttle_stay_home_after_a_kill(tmp_path: Path) -> None:
    config = config_with(max_trades_per_day=100, max_position=Decimal(10**6), max_working_orders=20)
    config = config.model_copy(
        update={"risk": config.risk.model_copy(update={"duplicate_window_s": 0.0})}
    )
    engine, broker, clock = await started_engine(tmp_path, config)
    engine.throttle.per_second = 2  # two messages a second
    intents = [make_intent(clock, quantity=1 + n) for n in range(6)]
    for intent in intents:
        assert (await engine.propose(intent)).accepted
    approvals = [
        asyncio.ensure_future(engine.approve(i.intent_id, engine.pending_token(i.intent_id) or ""))
        for i in intents
    ]
    await eventually(lambda: len(broker.submits) == 2)  # the first second's slots
    await engine.kill("queue test")
    # The cancel jumps the queue: it goes as soon as a slot frees, ahead of the orders.
    await eventually(lambda: broker.cancel_all_calls >= 1, timeout=1.5)
    results = await asyncio.gather(*approvals)
    assert len(broker.submits) == 2
    refused = [r for r in results if not r.ok]
    assert len(refused) == 4 and {r.code for r in refused} == {"HALTED"}
    for intent in intents[2:]:
        assert engine.book.records[intent.intent_id].state is LifecycleState.REJECTED
    await engine.stop()


async def test_urgent_slot_is_taken_before_queued_normal_ones() -> None:
    throttle = OutboundThrottle(1, SystemClock())
    order: list[str] = []

    async def normal(n: int) -> None:
        await throttle.acquire()
        order.append(f"n{n}")

    async def urgent() -> None:
        await throttle.acquire(urgent=True)
        order.append("u")

    await throttle.acquire()  # the window is full for a second
    tasks = [asyncio.ensure_future(normal(n)) for n in range(2)]
    for _ in range(3):  # let both normal senders reach their wait
        await asyncio.sleep(0)
    await asyncio.wait_for(urgent(), 3)
    assert order == ["u"]  # the queued normal ones are still waiting
    for task in tasks:
        task.cancel()
