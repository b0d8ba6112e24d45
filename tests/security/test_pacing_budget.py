"""IB's real budget, spent whole and never overdrawn: messages per window as the gateway counts."""

from __future__ import annotations

import asyncio
import math

from broker.gateway.pacing import Pacer, PacingPolicy, PacingVerdict
from broker.ibkr.pacing import BURST_WINDOW_S, OutboundPacer

SECONDS = 4
STEP_S = 0.002


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _flood(legs: int, stall_every: int = 0) -> list[float]:
    """Send brackets of `legs` messages as fast as the default pacer lets 6 eager senders, for
    SECONDS of simulated time; every `stall_every` steps the loop stalls 150 ms between granting
    slots and the senders resuming to send (a loaded machine). Returns when each message left."""
    clock = FakeMonotonic()
    pacer = OutboundPacer.per_second(monotonic=clock)
    end = clock.now + SECONDS
    sent: list[float] = []

    async def sender() -> None:
        while clock.now < end:
            await pacer.acquire(legs)
            sent.extend([clock.now] * legs)

    senders = [asyncio.ensure_future(sender()) for _ in range(6)]
    steps = 0
    while clock.now < end:
        clock.now += STEP_S
        steps += 1
        pacer._pump()
        if stall_every and steps % stall_every == 0:
            clock.now += 0.15  # slots granted, then the loop stalls before the senders resume
        for _ in range(3):
            await asyncio.sleep(0)
    for task in senders:
        task.cancel()
    await asyncio.gather(*senders, return_exceptions=True)
    pacer.close()
    return [t for t in sent if t < end]


def _gateway_count(arrivals: list[float]) -> Pacer:
    """The gateway's own pacing check, fed the messages in the order and at the times they
    reached it; it must never refuse one."""
    pacer = Pacer(PacingPolicy())
    verdicts = [pacer.admit(at) for at in arrivals]
    assert [v for v in verdicts if v is not PacingVerdict.OK] == []
    return pacer


def _read_in_batches(sent: list[float], every: float, phase: float) -> list[float]:
    """A receiver that reads its socket only every `every` s: each message counts when read."""
    return [math.ceil((t - phase) / every) * every + phase for t in sent]


async def test_the_pacer_spends_46_a_second_and_the_gateway_never_sees_51() -> None:
    sent = await _flood(legs=2)
    # the whole budget: 46 a second (not 45, not 36), 2-leg brackets included
    assert len(sent) >= 46 * SECONDS - 2
    gateway = _gateway_count(sent)
    assert gateway.busiest_window == 46


async def test_a_receiver_reading_up_to_80ms_late_still_counts_at_most_50() -> None:
    sent = await _flood(legs=2)
    for phase in (0.0, 0.013, 0.041, 0.07):
        gateway = _gateway_count(_read_in_batches(sent, BURST_WINDOW_S, phase))
        assert 46 <= gateway.busiest_window <= 50


async def test_three_leg_brackets_and_a_stalling_sender_stay_within_the_window() -> None:
    sent = await _flood(legs=3, stall_every=47)
    for phase in (0.0, 0.029, 0.06):
        gateway = _gateway_count(_read_in_batches(sent, BURST_WINDOW_S, phase))
        assert gateway.busiest_window <= 50


async def test_a_grant_not_yet_sent_when_the_loop_stalls_still_counts_against_the_burst() -> None:
    clock = FakeMonotonic()
    pacer = OutboundPacer(10, 10.0, clock, max_per_burst=2, burst_s=0.05)
    sent: list[float] = []

    async def send(name: str) -> None:
        await pacer.acquire(2)
        sent.extend([clock.now, clock.now])

    await send("first")  # the burst is full until +50 ms
    stalled = asyncio.ensure_future(send("stalled"))
    other = asyncio.ensure_future(send("other"))
    await asyncio.sleep(0)  # both queued
    clock.now += 0.05
    pacer._pump()  # "stalled" is granted; its sender has not resumed yet ...
    clock.now += 0.15  # ... and the loop stalls 150 ms before it does
    pacer._pump()  # another request's pump runs first (an acquire already in the ready queue)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert stalled.done()
    assert not other.done()  # the stalled pair leaves now: no room for two more in this burst
    clock.now += 0.05
    pacer._pump()
    await asyncio.wait_for(other, 5)
    assert max(sum(1 for u in sent if t <= u < t + 0.05) for t in sent) <= 2
    pacer.close()
