"""An asyncio task that advances the venue's quotes at a steady rate (updates per second)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

from broker.sim.venue import SimVenue


class QuoteStreamer:
    """Steps one symbol at a time, round-robin, so `rate` is total quote updates per second."""

    def __init__(self, venue: SimVenue, rate: float = 20.0, *, max_sleep: float = 0.02) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.venue = venue
        self.rate = rate
        self.max_sleep = max_sleep
        self.updates = 0
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Step quotes until cancelled; catches up in batches when the loop was busy."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        done = 0
        names = itertools.cycle([s.symbol for s in self.venue.symbols()])
        while True:
            due = int((loop.time() - start) * self.rate) - done
            if due > self.rate:  # fell far behind: drop the backlog instead of bursting
                start = loop.time()
                done, due = 0, 1
            for _ in range(due):
                self.venue.step(next(names))
            done += max(due, 0)
            self.updates += max(due, 0)
            await asyncio.sleep(min(1.0 / self.rate, self.max_sleep))

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="quote-streamer")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
