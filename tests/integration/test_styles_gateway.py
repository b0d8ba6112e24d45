"""Execution styles end to end: Engine -> IbkrBroker (real ib_async) -> gateway -> venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from contracts.enums import LifecycleState, TradingState
from contracts.events import OrderModified, parse_event
from contracts.intent import ExecutionStyle
from tests.integration.ops_support import Desk, gateway_desk, styled_intent
from tests.support import approve_pending, eventually


def modifies(desk: Desk, intent_id: str) -> list[OrderModified]:
    desk.engine.recorder.flush()
    events = [parse_event(r.payload) for r in desk.engine.store.tail(10_000)]
    return [e for e in events if isinstance(e, OrderModified) and e.intent_id == intent_id]


async def approved(desk: Desk, intent) -> str:  # type: ignore[no-untyped-def]
    result = await desk.engine.propose(intent)
    assert result.accepted, result.message
    sent = await approve_pending(desk.engine, intent.intent_id)
    assert sent.ok, sent.message
    return str(intent.intent_id)


async def test_limit_patience_reprices_toward_the_touch_and_fills(tmp_path: Path) -> None:
    async with gateway_desk(tmp_path) as desk:
        bid, ask = desk.quote()
        start = bid - Decimal("0.06")
        style = ExecutionStyle(
            kind="limit_patience",
            reprice_every_s=1.0,
            reprice_ticks=2,
            max_reprices=20,
            worst_price=ask + Decimal("0.05"),
        )
        iid = await approved(desk, styled_intent(desk, quantity=10, limit=start, style=style))
        rec = desk.engine.book.records[iid]
        await eventually(lambda: rec.acked_at is not None)
        await eventually(lambda: desk.quote() and rec.state is LifecycleState.FILLED, timeout=40)
        # a reprice may be in flight when the fill lands: read the steps once the style is done
        await eventually(lambda: desk.engine.styles.progress[iid].done, timeout=5)
        steps = modifies(desk, iid)
        assert steps and all(s.confirmed for s in steps)
        prices = [s.limit_price for s in steps]
        assert prices == sorted(prices) and all(p is not None and p <= ask for p in prices)
        assert all(b - a <= Decimal("0.02") for a, b in zip([start, *prices], prices, strict=False))
        assert desk.engine.book.positions["AAPL"].quantity == 10
        view = next(o for o in desk.engine.snapshot().orders if o.intent_id == iid)
        assert view.style is not None and view.style.kind == "limit_patience"
        assert view.style.steps == len(steps) and view.style.outcome == "filled"


async def test_twap_grows_the_working_order_slice_by_slice(tmp_path: Path) -> None:
    async with gateway_desk(tmp_path) as desk:
        bid, _ = desk.quote()
        far = bid - Decimal("1.00")  # never marketable: the order rests while it grows
        style = ExecutionStyle(kind="twap", window_s=10.0, slices=5, worst_price=far)
        iid = await approved(desk, styled_intent(desk, quantity=10, limit=far, style=style))
        await eventually(lambda: desk.venue_order(iid) is not None)
        first = desk.venue_order(iid)
        assert first is not None and first.quantity == 2  # type: ignore[attr-defined]
        await eventually(
            lambda: desk.quote() and desk.venue_order(iid).quantity >= 6,  # type: ignore[union-attr]
            timeout=20,
        )
        # the venue applies a modify before its confirmation reaches the engine's record
        await eventually(lambda: sum(s.confirmed for s in modifies(desk, iid)) >= 2, timeout=10)
        steps = [s for s in modifies(desk, iid) if s.confirmed]
        assert [s.quantity for s in steps][:2] == [Decimal(4), Decimal(6)]
        assert all(s.limit_price == far for s in steps)  # never past the worst price
        view = next(o for o in desk.engine.snapshot().orders if o.intent_id == iid)
        assert view.style is not None and view.style.working_quantity >= 6
        assert view.requested == 10
        assert (await desk.engine.cancel(iid, "test done")).ok
        rec = desk.engine.book.records[iid]
        await eventually(lambda: rec.state is LifecycleState.CANCELLED)


async def test_kill_mid_style_sends_nothing_more(tmp_path: Path) -> None:
    async with gateway_desk(tmp_path) as desk:
        bid, _ = desk.quote()
        start = bid - Decimal("1.00")
        style = ExecutionStyle(
            kind="limit_patience",
            reprice_every_s=1.0,
            reprice_ticks=1,
            max_reprices=50,
            worst_price=bid - Decimal("0.50"),
        )
        iid = await approved(desk, styled_intent(desk, quantity=10, limit=start, style=style))
        await eventually(lambda: desk.quote() and len(modifies(desk, iid)) >= 1, timeout=10)
        await desk.engine.kill("kill mid-style")
        assert desk.engine.book.trading_state is TradingState.HALTED
        assert not desk.engine.styles.working  # the runner is gone: nothing more can be sent
        sent_at_kill = len(modifies(desk, iid))
        await eventually(lambda: desk.engine.book.kill_confirmed is True, timeout=15)
        rec = desk.engine.book.records[iid]
        await eventually(lambda: rec.state is LifecycleState.CANCELLED)
        assert not [o for o in desk.gateway.venue.orders() if o.is_open]
        assert len(modifies(desk, iid)) == sent_at_kill
        progress = desk.engine.styles.progress[iid]
        assert progress.done and progress.outcome == "halted: kill switch"
