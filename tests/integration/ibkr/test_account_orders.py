"""The adapter sees the whole account (other API clients, TWS) and IB's moments, end to end."""

from __future__ import annotations

import pytest

from broker.gateway import messages as msg
from broker.gateway.server import GatewayServer
from broker.gateway.session import ClientSession
from contracts.broker import (
    BrokerConnected,
    BrokerDisconnected,
    BrokerNotice,
    CancelRejected,
    ConnectivityChanged,
    OrderCancelled,
    OrderEntryRefused,
    OrderRejected,
    order_ref_for,
)
from engine.ports import BrokerUnavailable
from tests.integration.ibkr.conftest import Rig, eventually, limit

READ_ONLY_TEXT = (
    "Error validating request.-'bN' : cause - The API interface is currently in Read-Only mode."
)


def _session(gateway: GatewayServer, client_id: int) -> ClientSession:
    (session,) = [s for s in gateway.sessions if s.client_id == client_id]
    return session


async def test_cancel_answered_with_10147_is_a_cancel_rejected(rig: Rig) -> None:
    ref = order_ref_for("c10147")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    accepted = rig.accepted(ref)
    assert accepted is not None
    # TWS no longer knows the order id (e.g. after it restarted): the cancel finds nothing
    del rig.gateway.order_keys[(rig.broker.client_id, accepted.broker_order_id)]
    await rig.broker.cancel(ref)
    await eventually(lambda: rig.events.of(CancelRejected), what="10147 confirmed")
    (rejected,) = rig.events.of(CancelRejected)
    assert (rejected.order_ref, rejected.code) == (ref, 10147)
    assert not rig.cancelled(ref)


@pytest.mark.parametrize("code", [399, 404])
async def test_warnings_399_and_404_on_a_live_order_change_nothing(rig: Rig, code: int) -> None:
    ref = order_ref_for(f"w{code}")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    accepted = rig.accepted(ref)
    assert accepted is not None
    text = "Order Message: warning, order held" if code == 399 else "Shares not available"
    _session(rig.gateway, rig.broker.client_id).send(
        msg.error(accepted.broker_order_id, code, text)
    )
    await eventually(
        lambda: any(n.code == code for n in rig.events.of(BrokerNotice)), what="the warning"
    )
    await rig.broker.quiesce()
    assert not rig.cancelled(ref)
    assert not rig.events.of(OrderRejected) and not rig.events.of(CancelRejected)
    (working,) = await rig.broker.open_orders()
    assert working.order_ref == ref
    assert rig.broker.connected
    await rig.broker.cancel(ref)  # the order is still ours to cancel
    await eventually(lambda: rig.cancelled(ref), what="cancel")


async def test_read_only_api_refusal_disables_order_entry_with_the_reason(rig: Rig) -> None:
    """TWS with "Read-Only API" answers placeOrder with 321 '...Read-Only mode.'."""
    session = _session(rig.gateway, rig.broker.client_id)

    def refuse(fields: list[str]) -> None:
        session.send(msg.error(int(fields[1]), 321, READ_ONLY_TEXT))

    session._handlers[3] = refuse  # placeOrder; gateway fault injection pending
    ref = order_ref_for("ro1")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.events.of(OrderEntryRefused), what="read-only detected")
    (refused,) = rig.events.of(OrderEntryRefused)
    assert "Read-Only" in refused.reason
    await eventually(lambda: rig.events.of(OrderRejected), what="the order refused")
    assert rig.events.of(OrderRejected)[0].order_ref == ref
    assert not rig.broker.connected
    with pytest.raises(BrokerUnavailable, match="read-only"):
        await rig.broker.submit(limit(order_ref_for("ro2")))
    assert len(rig.events.of(OrderEntryRefused)) == 1
    assert await rig.broker.open_orders() == []  # reads still work


async def test_every_socket_reconnect_tells_the_engine_to_reconcile(rig: Rig) -> None:
    rig.gateway.faults.drop_connections()
    await eventually(lambda: rig.events.of(BrokerDisconnected), what="disconnect")
    await eventually(lambda: len(rig.events.of(BrokerConnected)) == 2, what="reconnect")
    await eventually(lambda: rig.events.of(ConnectivityChanged), what="resync signal")
    (signal,) = rig.events.of(ConnectivityChanged)
    assert signal.connected and signal.data_lost
    reconnected = rig.events.of(BrokerConnected)[-1]
    assert rig.events.events.index(reconnected) < rig.events.events.index(signal)
    assert not any(isinstance(e, OrderCancelled) for e in rig.events.events)
