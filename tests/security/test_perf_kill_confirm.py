"""The kill's broker confirmation: never confirmed while an order may still work; it asks again."""

from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal
from pathlib import Path

import pytest

from broker.ibkr.confirmation import OrderConfirmation
from broker.ibkr.link import IbLink
from broker.ibkr.order_outcomes import OrderOutcomes
from broker.ibkr.orders import OrderBook
from broker.ibkr.pacing import OutboundPacer
from contracts.broker import BrokerOrder, OrderCancelled
from contracts.enums import BrokerOrderStatus, LifecycleState, OrderType, Side
from contracts.intent import Instrument
from engine.clock import ManualClock
from engine.engine import Engine
from engine.ports import BrokerUnavailable
from tests.support import FakeBroker, config_with, eventually, working_orders


class LossyBroker(FakeBroker):
    """Cancels at the venue, but its answers can be lost or stale, as under heavy load."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.lose_cancel_events = False
        self.lost: list[OrderCancelled] = []
        self.answers: list[list[BrokerOrder] | BrokerUnavailable] = []
        """Scripted open-orders answers, used first to last before the truth."""
        self.open_orders_calls = 0

    async def cancel_all(self) -> None:
        self.cancel_all_calls += 1
        for ref in list(self.working):
            order = self.working.pop(ref)
            event = OrderCancelled(
                ts=self.clock.now(), order_ref=ref, perm_id=order.perm_id, filled=order.filled
            )
            if self.lose_cancel_events:
                self.lost.append(event)
            else:
                self.sink(event)

    async def open_orders(self) -> list[BrokerOrder]:
        self.open_orders_calls += 1
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, BrokerUnavailable):
                raise answer
            return answer
        return await super().open_orders()


def foreign_order() -> BrokerOrder:
    """An order another client placed on the account: the engine has no record of it."""
    return BrokerOrder(
        order_ref="",
        broker_order_id=9001,
        perm_id=9001,
        instrument=Instrument(symbol="AAPL"),
        side=Side.BUY,
        quantity=Decimal(5),
        filled=Decimal(0),
        remaining=Decimal(5),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("90"),
        stop_price=None,
        status=BrokerOrderStatus.WORKING,
    )


async def _engine_with_working(tmp_path: Path, n: int) -> tuple[Engine, LossyBroker, list[str]]:
    clock = ManualClock()
    broker = LossyBroker(clock)
    config = config_with(max_trades_per_day=100, max_position=Decimal(10_000))
    engine = Engine(config, broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    return engine, broker, await working_orders(engine, clock, n)


async def test_kill_is_not_confirmed_while_the_engine_has_no_answer_for_its_orders(
    tmp_path: Path,
) -> None:
    engine, broker, ids = await _engine_with_working(tmp_path, 4)
    broker.lose_cancel_events = True  # the venue cancels; the four answers never arrive
    await engine.kill("test")
    await eventually(lambda: broker.open_orders_calls >= 3)
    assert broker.working == {}  # the broker lists nothing working ...
    assert engine.book.kill_confirmed is False  # ... but four orders have no final answer
    assert all(engine.book.records[i].state is LifecycleState.SUBMITTED for i in ids)
    for event in broker.lost:  # the answers come after all (a requery, a resync)
        broker.push(event)
    await eventually(lambda: engine.book.kill_confirmed is True)
    assert all(engine.book.records[i].state is LifecycleState.CANCELLED for i in ids)
    await engine.stop()


async def test_kill_confirmation_asks_again_after_a_timed_out_open_orders_request(
    tmp_path: Path,
) -> None:
    engine, broker, _ = await _engine_with_working(tmp_path, 2)
    broker.working["foreign"] = foreign_order()  # still working after the global cancel
    timeout = BrokerUnavailable("the broker did not answer a sync request in time")
    # the request times out; the next answer is the stale tail of the timed-out one
    broker.answers = [timeout, []]
    real_cancel_all = broker.cancel_all

    async def cancel_all_but_foreign() -> None:
        foreign = broker.working.pop("foreign")
        await real_cancel_all()
        broker.working["foreign"] = foreign

    broker.cancel_all = cancel_all_but_foreign  # type: ignore[method-assign]
    await engine.kill("test")
    await eventually(lambda: broker.open_orders_calls >= 4)
    assert engine.book.kill_confirmed is False  # the stale empty answer did not confirm
    del broker.working["foreign"]  # the other client's order is cancelled at last
    await eventually(lambda: engine.book.kill_confirmed is True)
    await engine.stop()


class InOrderTws:
    """TWS answering one connection's requests in order, seen through ib_async's futures: one
    pending future per request kind (open orders) or per request id (executions), so a late
    open-orders answer resolves whichever open-orders request is pending when it arrives."""

    def __init__(self, open_orders_answers: list[list[str]]) -> None:
        self.open_orders_answers = open_orders_answers
        self.futures: dict[str, asyncio.Future[object]] = {}
        self.outbox: deque[tuple[str, object]] = deque()
        self.sent: list[str] = []
        self.request_ids = 0

    def _request(self, kind: str, answer: object) -> asyncio.Future[object]:
        future = asyncio.get_running_loop().create_future()
        self.futures[kind] = future
        self.outbox.append((kind, answer))
        self.sent.append(kind)
        return future

    def reqOpenOrdersAsync(self) -> asyncio.Future[object]:
        return self._request("openOrders", self.open_orders_answers.pop(0))

    def reqExecutionsAsync(self, _filter: object) -> asyncio.Future[object]:
        self.request_ids += 1
        return self._request(f"executions {self.request_ids}", [])

    def isConnected(self) -> bool:
        return True

    def answer_next(self) -> None:
        kind, answer = self.outbox.popleft()
        future = self.futures.pop(kind, None)
        if future is not None and not future.done():
            future.set_result(answer)


async def test_open_orders_after_a_timeout_are_not_the_late_tail_of_the_old_answer() -> None:
    # the timed-out request's answer ends late with a tail that no longer lists the order
    tws = InOrderTws([["tail of the old answer"], ["the working order"]])
    link = IbLink(tws, OutboundPacer.per_second(45), ManualClock(), request_timeout_s=0.05)  # type: ignore[arg-type]
    book = OrderBook()
    confirmation = OrderConfirmation(link, book, OrderOutcomes(link, book, client_id=1))
    with pytest.raises(BrokerUnavailable):
        await confirmation.open_trades()  # TWS is slow: nothing came in time
    asked = asyncio.create_task(confirmation.open_trades())
    while not asked.done():
        if tws.outbox:
            tws.answer_next()
        await asyncio.sleep(0)
    assert await asked == ["the working order"]
    assert tws.sent == ["openOrders", "executions 1", "openOrders"]
