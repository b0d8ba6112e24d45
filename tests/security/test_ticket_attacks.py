"""Attacks on the order ticket, replace and close: the real engine on the sim venue.

A ticket never sends by itself, never passes a limit, never prices off the tick grid; a
replacement whose cancel fails sends nothing; closing a flat or unknown position sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from console.tui.screens.ticket import TicketForm, ticket_intent, validate
from contracts.enums import LifecycleState, OrderType, Side
from contracts.intent import Instrument, OrderParams
from engine.clock import ManualClock
from engine.ports import BrokerUnavailable
from tests.console.test_app_engine import Desk
from tests.support import approve_pending, eventually, make_intent

D = Decimal


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    desk = Desk(tmp_path, ManualClock())
    await desk.engine.start()
    yield desk
    await desk.engine.stop()


def venue_refs(desk: Desk) -> list[str]:
    """Entry orders the venue has received (bracket legs travel with their entry)."""
    return [o.order_ref for o in desk.venue.orders() if o.order_ref.endswith(":ENTRY")]


def state(desk: Desk, intent_id: str) -> LifecycleState:
    return desk.engine.book.records[intent_id].state


async def settle(desk: Desk, predicate: object) -> None:
    """Let the venue answer (its scheduler shares the frozen clock) until `predicate()`."""

    def advanced() -> bool:
        desk.advance(0.2)
        return bool(predicate())  # type: ignore[operator]

    await eventually(advanced)


async def resting_buy(desk: Desk, intent_id: str) -> Decimal:
    """A working buy limit one dollar under the bid (it will not fill); returns its limit."""
    limit = desk.venue.quote("AAPL").bid - D("1.00")
    intent = make_intent(
        desk.clock, intent_id=intent_id, limit=str(limit), stop_loss=str(limit - D("0.10"))
    )
    assert (await desk.engine.propose(intent, source="test")).accepted
    assert (await approve_pending(desk.engine, intent_id)).ok
    await settle(desk, lambda: desk.engine.book.records[intent_id].acked_at is not None)
    return limit


def manual_order(limit: Decimal, quantity: str = "10") -> OrderParams:
    return OrderParams(
        instrument=Instrument(symbol="AAPL"),
        side=Side.BUY,
        quantity=D(quantity),
        order_type=OrderType.LIMIT,
        limit_price=limit,
        stop_loss=limit - D("0.10"),
    )


async def test_a_ticket_only_proposes_it_never_sends(desk: Desk) -> None:
    limit = desk.venue.quote("AAPL").bid - D("1.00")
    intent = ticket_intent(manual_order(limit), desk.clock, None)
    result = await desk.engine.propose_manual(intent)
    assert result.accepted, result.message
    assert state(desk, intent.intent_id) is LifecycleState.PROPOSED
    assert [p.intent.intent_id for p in desk.engine.snapshot().pending] == [intent.intent_id]
    assert venue_refs(desk) == []
    refused = await desk.engine.approve(intent.intent_id, "not-the-token")
    assert not refused.ok and venue_refs(desk) == []
    assert (await approve_pending(desk.engine, intent.intent_id)).ok
    assert len(venue_refs(desk)) == 1


async def test_a_ticket_cannot_pass_as_another_strategy(desk: Desk) -> None:
    limit = desk.venue.quote("AAPL").bid - D("1.00")
    intent = ticket_intent(manual_order(limit), desk.clock, None).model_copy(
        update={"strategy": "orb"}
    )
    assert not (await desk.engine.propose_manual(intent)).accepted
    assert desk.engine.snapshot().pending == ()


async def test_a_ticket_over_the_limits_is_refused_by_the_ticket_and_the_engine(
    desk: Desk,
) -> None:
    too_many = str(desk.config.risk.max_order_quantity + 1)
    lookup = await desk.engine.lookup_contract("AAPL")
    quote = desk.engine.quote("AAPL")
    assert quote is not None and quote.bid is not None
    form = TicketForm("AAPL", "BUY", too_many, "LMT", str(quote.bid), str(quote.bid - D("0.05")))
    check = validate(form, lookup, quote, desk.config.risk)
    assert not check.ok
    assert any("quantity" in line and not ok for ok, line in check.lines)
    assert check.order is not None  # well formed, so the engine is asked too, and says no
    intent = ticket_intent(check.order, desk.clock, None)
    assert any(not c.passed for c in desk.engine.check_intent(intent))
    result = await desk.engine.propose_manual(intent)
    assert not result.accepted and "denied" in result.message
    assert venue_refs(desk) == []


async def test_an_off_tick_price_is_refused_with_the_nearest_valid_ones(desk: Desk) -> None:
    lookup = await desk.engine.lookup_contract("AAPL")
    quote = desk.engine.quote("AAPL")
    assert lookup.facts is not None and lookup.facts.min_tick == D("0.01")
    assert quote is not None and quote.bid is not None
    off = quote.bid - D("0.105")
    form = TicketForm("AAPL", "BUY", "10", "LMT", str(off), str(quote.bid - D("0.50")))
    check = validate(form, lookup, quote, desk.config.risk)
    assert not check.ok
    below, above = (off - D("0.005")).quantize(D("0.01")), (off + D("0.005")).quantize(D("0.01"))
    assert any(f"nearest {below} or {above}" in line for ok, line in check.lines if not ok)


async def test_a_replacement_whose_cancel_fails_sends_nothing(desk: Desk) -> None:
    limit = await resting_buy(desk, "old-1")
    before = venue_refs(desk)
    new = ticket_intent(manual_order(limit + D("0.05")), desk.clock, "old-1")
    assert (await desk.engine.propose_manual(new, replaces="old-1")).accepted

    async def cancel_fails(order_ref: str) -> None:
        raise BrokerUnavailable("socket closed")

    desk.broker.cancel = cancel_fails  # type: ignore[method-assign]
    result = await approve_pending(desk.engine, new.intent_id)
    assert not result.ok and "replacement not sent" in result.message
    assert venue_refs(desk) == before  # the replacement never left
    assert state(desk, new.intent_id) is LifecycleState.REJECTED
    assert state(desk, "old-1").is_working  # the old order still works, and is still ours


async def test_a_bad_token_on_a_replacement_cancels_nothing(desk: Desk) -> None:
    limit = await resting_buy(desk, "old-2")
    new = ticket_intent(manual_order(limit + D("0.05")), desk.clock, "old-2")
    assert (await desk.engine.propose_manual(new, replaces="old-2")).accepted
    refused = await desk.engine.approve(new.intent_id, "forged")
    assert not refused.ok
    desk.advance(1.0)
    assert state(desk, "old-2") is LifecycleState.SUBMITTED


async def test_a_replacement_leaves_only_after_the_broker_confirms_the_cancel(
    desk: Desk,
) -> None:
    limit = await resting_buy(desk, "old-3")
    new = ticket_intent(manual_order(limit + D("0.05")), desk.clock, "old-3")
    assert (await desk.engine.propose_manual(new, replaces="old-3")).accepted
    seen: list[tuple[str, LifecycleState]] = []
    submit = desk.broker.submit

    async def watched_submit(request: object) -> None:
        seen.append(("submit", state(desk, "old-3")))
        await submit(request)  # type: ignore[arg-type]

    desk.broker.submit = watched_submit  # type: ignore[method-assign]
    approving = asyncio.ensure_future(approve_pending(desk.engine, new.intent_id))
    await settle(desk, approving.done)
    assert approving.result().ok, approving.result().message
    assert seen == [("submit", LifecycleState.CANCELLED)]  # never two live orders


async def test_a_replacement_of_an_order_that_finished_sends_nothing(desk: Desk) -> None:
    limit = await resting_buy(desk, "old-4")
    new = ticket_intent(manual_order(limit + D("0.05")), desk.clock, "old-4")
    assert (await desk.engine.propose_manual(new, replaces="old-4")).accepted
    assert (await desk.engine.cancel("old-4")).ok
    await settle(desk, lambda: state(desk, "old-4") is LifecycleState.CANCELLED)
    before = venue_refs(desk)
    result = await approve_pending(desk.engine, new.intent_id)
    assert not result.ok and "replacement not sent" in result.message
    assert venue_refs(desk) == before


async def test_closing_a_flat_or_unknown_position_sends_nothing(desk: Desk) -> None:
    for symbol in ("AAPL", "ZZZZ"):
        result = await desk.engine.close_position(symbol, "test")
        assert not result.ok and result.code == "FLAT"
    assert venue_refs(desk) == []
