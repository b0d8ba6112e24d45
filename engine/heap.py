"""Keep the garbage collector out of the order path: a frozen start-up heap, paced collections."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time

COLLECT_PERIOD_S = 0.02
"""How often the paced collector looks at the allocation counts (a frame is ~16 ms)."""

YOUNG_PASSES_PER_MIDDLE = 3
"""Every third paced pass takes the middle generation too (CPython's automatic collector: every
eleventh). A middle pass scans what the young passes since the last one kept alive, and under a
1,000 quotes/s stream with a live screen that was 15 ms at p50 and 51 ms at p90 every 3-4 s:
a keystroke landing behind one waited that long. A third as much to scan, three times as
often: 6 ms at p50, 14 ms at p90; the same work over a session."""

FULL_PASS_EVERY_S = 60.0
"""A full pass scans every object the session allocated (tens of ms late in a long session),
so it is held back, as the automatic collector holds it back until a quarter of the old
generation is new (a count this module cannot read)."""

_collector: asyncio.Task[None] | None = None
_last_full = float("-inf")


def settle_heap() -> int:
    """Collect once, then freeze what survives (config, instrument master, the replayed book,
    imported modules): later full collections scan only what the session itself allocates, so
    their pauses stay short however long the audit history grew. Inside a running event loop,
    collections are then paced (`collect_between_callbacks`). Call once per process, after the
    engine has started; returns how many objects were frozen."""
    global _collector
    gc.collect()
    gc.freeze()
    with contextlib.suppress(RuntimeError):  # no running loop: automatic collection stays on
        loop = asyncio.get_running_loop()
        if _collector is None or _collector.done() or _collector.get_loop() is not loop:
            gc.disable()  # from now the timer below decides; automatic again when it ends
            _collector = loop.create_task(collect_between_callbacks(), name="paced-gc")
            _collector.add_done_callback(lambda _: gc.enable())
    return gc.get_freeze_count()


async def collect_between_callbacks(period_s: float = COLLECT_PERIOD_S) -> None:
    """Run the collector's own schedule (the same allocation thresholds) from a timer.

    Automatic collection starts on an allocation, wherever that allocation happens: mid-way
    through an approval (token, re-check, write-ahead, send), a young-generation pass of a few
    milliseconds lands between the keystroke and the order leaving. An asyncio callback is never
    interrupted by another, so collections started here fall between the engine's steps. The
    work is the same; only where it lands moves. `settle_heap` turns automatic collection off
    while this runs.
    """
    while True:
        await asyncio.sleep(period_s)
        collect_due()


def collect_due() -> int | None:
    """Collect as the automatic collector would have by now: once the young generation's
    allocation count passes its threshold, the young generation, and on every
    YOUNG_PASSES_PER_MIDDLE-th pass the middle one, or the oldest once its count passed its
    threshold (a full pass at most every FULL_PASS_EVERY_S). Returns the generation collected,
    or None."""
    global _last_full
    counts = gc.get_count()
    thresholds = gc.get_threshold()
    if counts[0] <= thresholds[0]:
        return None
    generation = 1 if counts[1] >= YOUNG_PASSES_PER_MIDDLE - 1 else 0  # young passes since
    now = time.monotonic()
    if counts[2] > thresholds[2] and now - _last_full >= FULL_PASS_EVERY_S:
        generation, _last_full = 2, now
    gc.collect(generation)
    return generation
