"""The book's count of orders at the broker per (symbol, side) agrees with a scan of the records."""

from __future__ import annotations

import random
from pathlib import Path

from contracts.enums import LifecycleState, Side
from contracts.events import parse_event
from engine.book import ENTRY_OPEN_STATES, EXITS_WORKING_STATES, FINAL_STATES, Book
from tests.support import approve_pending, config_with, make_intent, started_engine


def scanned(book: Book, symbol: str, side: Side, excluding: str) -> int:
    """The count by brute force: open entries on `side`, live bracket exits against it."""
    count = 0
    for rec in book.live.values():
        o = rec.intent.order
        if o.instrument.symbol != symbol or rec.intent.intent_id == excluding:
            continue
        if rec.state in ENTRY_OPEN_STATES and o.side is side:
            count += 1
        if rec.state in EXITS_WORKING_STATES and o.side is not side:
            count += (o.stop_loss is not None) + (o.take_profit is not None)
    return count


def assert_index_matches(book: Book) -> None:
    for symbol in ("AAPL", "MSFT"):
        for side in Side:
            for excluding in ("", *book.records):
                assert book.working_orders(symbol, side, excluding) == scanned(
                    book, symbol, side, excluding
                ), (symbol, side, excluding)


async def test_the_index_follows_every_state_change_and_survives_replay(tmp_path: Path) -> None:
    config = config_with(
        max_trades_per_day=1000, max_working_orders=1000, max_position=10**6, duplicate_window_s=0
    )
    engine, broker, clock = await started_engine(tmp_path, config)
    broker.quote("MSFT", "99.99", "100.01")
    rng = random.Random(7)
    refs: list[str] = []
    for i in range(40):
        side = rng.choice(list(Side))
        stop = "99.90" if side is Side.BUY else "100.10"
        target = rng.choice([None, "100.20" if side is Side.BUY else "99.80"])
        intent = make_intent(
            clock,
            side=side,
            quantity=1 + i,
            limit="100.00",
            stop_loss=stop,
            take_profit=target,
            symbol=rng.choice(["AAPL", "MSFT"]),
        )
        assert (await engine.propose(intent)).accepted
        if rng.random() < 0.8:
            assert (await approve_pending(engine, intent.intent_id)).ok
            ref = engine.book.records[intent.intent_id].order_ref
            assert ref is not None
            refs.append(ref)
        for ref in rng.sample(refs, k=min(len(refs), 2)):
            action = rng.choice(["ack", "fill", "cancel", "reject"])
            rec = engine.book.records[engine.book.by_ref[ref]]
            if ref not in broker.working or rec.state in FINAL_STATES:
                continue
            if action == "ack":
                broker.ack(ref)
            elif action == "fill":
                broker.fill(ref, rec.requested - rec.entry_filled, "100.00")
            elif action == "cancel":
                await engine.cancel(rec.intent.intent_id, "test")
                broker.confirm_cancel(ref)
            else:
                broker.reject(ref)
        assert_index_matches(engine.book)
    states = {rec.state for rec in engine.book.records.values()}
    assert {LifecycleState.SUBMITTED, LifecycleState.MANAGED} <= states  # entries and exits counted
    engine.store.flush()
    replayed = Book()
    for row in engine.store.rows():
        replayed.apply(parse_event(row.payload))
    assert_index_matches(replayed)
    await engine.stop()
