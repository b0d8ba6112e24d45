"""The garbage collector never starts inside the order path once the heap is settled."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import heap
from engine.heap import collect_due, settle_heap
from tests.support import (
    approve_pending,
    config_with,
    eventually,
    make_intent,
    started_engine,
)


@pytest.fixture
def frequent_collections() -> Iterator[None]:
    """A young threshold low enough that an approval's allocations would trip it every time."""
    before = gc.get_threshold()
    gc.set_threshold(50, 2, 2)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
        gc.enable()


async def test_no_collection_starts_between_approve_and_the_send(
    tmp_path: Path, frequent_collections: None
) -> None:
    engine, broker, clock = await started_engine(
        tmp_path, config_with(max_trades_per_day=100, duplicate_window_s=0.0)
    )
    settle_heap()
    inside: list[bool] = [False]
    started_inside: list[int] = []
    collections: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])
            if inside[0]:
                started_inside.append(info["generation"])

    submit = broker.submit

    async def submit_marked(order):  # type: ignore[no-untyped-def]
        inside[0] = False
        await submit(order)

    broker.submit = submit_marked  # type: ignore[method-assign]
    gc.callbacks.append(watch)
    try:
        for n in range(4):
            intent = make_intent(clock, quantity=n + 1)
            assert (await engine.propose(intent)).accepted
            ran = len(collections)
            await eventually(lambda ran=ran: len(collections) > ran)  # the dwell: it collected
            inside[0] = True
            assert (await approve_pending(engine, intent.intent_id)).ok
            inside[0] = False
    finally:
        gc.callbacks.remove(watch)
        await engine.stop()
    assert collections, "the paced collector never ran"
    assert started_inside == []


async def test_automatic_collection_is_back_when_the_loop_ends(frequent_collections: None) -> None:
    settle_heap()
    assert not gc.isenabled()  # paced from the loop now
    task = heap._collector
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc.isenabled()


def test_collect_due_follows_the_thresholds(frequent_collections: None) -> None:
    gc.disable()
    gc.collect()
    assert collect_due() is None  # nothing allocated since
    junk = [[] for _ in range(200)]
    assert collect_due() in (0, 1, 2)
    del junk


def test_a_collector_left_on_an_old_loop_is_replaced(frequent_collections: None) -> None:
    """A console run whose loop stopped without cancelling its tasks must not leave the next
    loop with collection off and nothing collecting."""

    async def settle_here() -> asyncio.Task[None] | None:
        settle_heap()
        collector = heap._collector
        assert collector is not None and collector.get_loop() is asyncio.get_running_loop()
        return collector

    old_loop = asyncio.new_event_loop()
    stranded = old_loop.run_until_complete(settle_here())  # that loop stops; its task stays
    try:
        assert stranded is not None and not stranded.done()
        assert asyncio.run(settle_here()) is not stranded
    finally:
        assert stranded is not None
        stranded.cancel()
        old_loop.run_until_complete(asyncio.gather(stranded, return_exceptions=True))
        old_loop.close()


def test_every_third_paced_pass_takes_the_middle_generation() -> None:
    """Short middle passes: each scans what three young passes kept, not eleven."""
    gc.disable()
    try:
        gc.collect()
        taken, kept = [], []
        for _ in range(9):
            kept.append([[] for _ in range(gc.get_threshold()[0] + 10)])  # alive: counted
            taken.append(collect_due())
        assert taken == [0, 0, 1] * 3  # CPython's own: ten young passes before a middle one
    finally:
        gc.enable()
