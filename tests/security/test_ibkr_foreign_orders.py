"""Attack: another API client (or a TWS user) writes deskgate's own orderRef on its orders.

Its order must show as foreign (drift, kill confirmation) and its fills must never be applied
to deskgate's order. Runs the real adapter and ib_async against the project's gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from ib_async import IB, LimitOrder, Stock

from contracts.broker import (
    ConnectivityChanged,
    OrderFilled,
    order_ref_for,
    parse_order_ref,
)
from contracts.enums import OrderLeg
from tests.integration.ibkr.conftest import Rig, eventually, limit, rig

OTHER_CLIENT = 77
__all__ = ["rig"]


@pytest.fixture
async def other_client(rig: Rig) -> AsyncIterator[IB]:
    """A second API client on the same account (another tool, or a trader's script)."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", rig.gateway.port, clientId=OTHER_CLIENT, timeout=5)
    try:
        yield ib
    finally:
        ib.disconnect()


async def test_open_orders_list_an_order_placed_by_another_api_client(
    rig: Rig, other_client: IB
) -> None:
    ours = order_ref_for("mine1")
    await rig.broker.submit(limit(ours))
    await eventually(lambda: rig.accepted(ours), what="ack")
    # client 77 writes deskgate's own orderRef on its order: it must still count as foreign
    order = LimitOrder("BUY", 5, 140.0, orderRef=ours)
    trade = other_client.placeOrder(Stock("AAPL", "SMART", "USD"), order)
    await eventually(lambda: trade.orderStatus.permId, what="foreign ack")

    listed = await rig.broker.open_orders()
    assert len(listed) == 2
    (foreign,) = [o for o in listed if o.perm_id == trade.orderStatus.permId]
    assert parse_order_ref(foreign.order_ref) is None
    assert foreign.order_ref.startswith(f"client {OTHER_CLIENT} ")
    assert foreign.quantity == 5
    (mine,) = [o for o in listed if o is not foreign]
    assert mine.order_ref == ours


async def test_a_foreign_fill_never_lands_on_deskgate_order(rig: Rig, other_client: IB) -> None:
    ours = order_ref_for("mine2")
    await rig.broker.submit(limit(ours))
    await eventually(lambda: rig.accepted(ours), what="ack")
    order = LimitOrder("BUY", 5, 140.0, orderRef=ours)
    trade = other_client.placeOrder(Stock("AAPL", "SMART", "USD"), order)
    await eventually(lambda: trade.orderStatus.permId, what="foreign ack")
    rig.gateway.faults.fill_order(OTHER_CLIENT, trade.order.orderId, price=Decimal("140"))
    await eventually(lambda: trade.orderStatus.status == "Filled", what="foreign fill")
    rig.gateway.faults.connectivity_restored(data_lost=False)  # the resync reads every fill
    await eventually(lambda: rig.events.of(ConnectivityChanged), what="1102 resync")
    await rig.broker.quiesce()
    assert not rig.fills(ours)
    assert all(parse_order_ref(f.order_ref) is None for f in rig.events.of(OrderFilled))
    (mine,) = [o for o in await rig.broker.open_orders() if o.order_ref == ours]
    assert mine.filled == 0


async def test_a_foreign_cancel_never_marks_a_deskgate_exit_gone(
    rig: Rig, other_client: IB
) -> None:
    """The engine records a bracket leg gone when the adapter reports it cancelled. Another
    client writes deskgate's target orderRef on its order and cancels it: the adapter reports
    no cancel under deskgate's orderRef (it follows its own orders by id, not by orderRef)."""
    target = order_ref_for("mine3", OrderLeg.TAKE_PROFIT)
    order = LimitOrder("SELL", 5, 900.0, orderRef=target)  # rests
    trade = other_client.placeOrder(Stock("AAPL", "SMART", "USD"), order)
    await eventually(lambda: trade.orderStatus.permId, what="foreign ack")
    other_client.cancelOrder(trade.order)
    await eventually(lambda: trade.orderStatus.status == "Cancelled", what="foreign cancel")
    rig.gateway.faults.connectivity_restored(data_lost=False)  # the resync reads every order
    await eventually(lambda: rig.events.of(ConnectivityChanged), what="1102 resync")
    await rig.broker.quiesce()
    assert not rig.cancelled(target)
    ours = order_ref_for("mine4")  # the same path does report deskgate's own cancel
    await rig.broker.submit(limit(ours))
    await eventually(lambda: rig.accepted(ours), what="ack")
    await rig.broker.cancel(ours)
    await eventually(lambda: rig.cancelled(ours), what="own cancel")
