"""The adapter's pacer spends IB's real budget: 46 msg/s, never more than TWS's 50 on receipt."""

from __future__ import annotations

import asyncio
import time

from broker.ibkr import IbkrBroker
from broker.ibkr.pacing import OutboundPacer


def _max_in_window(times: list[float], window: float) -> int:
    """Most sends within any `window` (closed at both ends: the strictest count)."""
    return max(sum(1 for u in times if t <= u <= t + window) for t in times)


async def _send(pacer: OutboundPacer, messages: int, per_acquire: int = 1) -> list[float]:
    sent: list[float] = []

    async def one() -> None:
        await pacer.acquire(per_acquire)
        sent.extend([time.monotonic()] * per_acquire)

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(messages // per_acquire))), 10)
    return sent


async def test_the_default_pacer_spends_46_a_second_at_most_4_per_80ms() -> None:
    sent = await _send(OutboundPacer.per_second(), 60)
    assert _max_in_window(sent, 0.999) <= 46  # ib_async never queues
    assert IbkrBroker()._ib.client.MaxRequests == 46  # ib_async's own throttle, at the same rate
    assert _max_in_window(sent, 0.079) <= 4
    # a second as TWS counts it, with up to 80 ms of bunching before receipt
    assert _max_in_window(sent, 1.079) <= 50


async def test_brackets_go_out_whole_within_the_burst_budget() -> None:
    sent = await _send(OutboundPacer.per_second(), 30, per_acquire=3)
    assert len(sent) == 30
    assert _max_in_window(sent, 0.079) <= 4


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_send_counts_when_it_leaves_not_when_its_slot_was_granted() -> None:
    clock = FakeMonotonic()
    pacer = OutboundPacer(10, 10.0, clock, max_per_burst=2, burst_s=0.05)
    await pacer.acquire(2)
    waiting = asyncio.ensure_future(pacer.acquire(2))
    await asyncio.sleep(0)  # queued: the burst is full until 100.05
    clock.now = 100.05
    pacer._pump()  # granted now...
    clock.now = 100.13  # ...but the loop stalls 80 ms before the sender resumes and sends
    await waiting
    later = asyncio.ensure_future(pacer.acquire(1))
    clock.now = 100.17
    pacer._pump()
    await asyncio.sleep(0)
    assert not later.done()  # the pair left at 100.13: the burst window holds until 100.18
    clock.now = 100.18
    pacer._pump()
    await asyncio.wait_for(later, 5)
    pacer.close()
