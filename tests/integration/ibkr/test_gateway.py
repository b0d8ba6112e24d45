"""The adapter end to end: real ib_async against the project's TWS-protocol gateway simulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from broker.gateway.testing import running_gateway
from broker.ibkr import ClientIdInUse, IbkrBroker, ReconnectPolicy, probe
from contracts.broker import (
    BrokerConnected,
    BrokerDisconnected,
    CancelRejected,
    CommissionReported,
    ConnectivityChanged,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    PacingViolation,
    PositionUpdated,
    QuoteUpdated,
    order_ref_for,
)
from contracts.enums import OrderLeg, OrderType, Side
from engine.clock import ManualClock
from engine.ports import BrokerUnavailable
from tests.integration.ibkr.conftest import (
    AAPL,
    CLIENT_ID,
    Recorder,
    Rig,
    eventually,
    limit,
    market,
)


async def test_submit_ack_partial_fill_fill_position(rig: Rig) -> None:
    ref = order_ref_for("flow1")
    rig.gateway.faults.partial_fill_next_orders()
    await rig.broker.submit(market(ref))
    await eventually(lambda: rig.fills(ref), what="first (partial) fill")
    first = rig.fills(ref)[0]
    assert first.remaining > 0 and first.cum_quantity == first.quantity < 100
    rig.gateway.venue.step("AAPL")  # the rest fills on the next quote
    await eventually(lambda: rig.fills(ref) and rig.fills(ref)[-1].remaining == 0, what="fill")

    fills = rig.fills(ref)
    assert sum(f.quantity for f in fills) == 100
    assert fills[-1].cum_quantity == 100
    assert len({f.exec_id for f in fills}) == len(fills)
    accepted = rig.accepted(ref)
    assert accepted is not None and accepted.perm_id == fills[0].perm_id
    assert rig.events.events.index(accepted) < rig.events.events.index(fills[0])
    await eventually(
        lambda: (
            {c.exec_id for c in rig.events.of(CommissionReported)} >= {f.exec_id for f in fills}
        ),
        what="commissions",
    )
    await eventually(
        lambda: any(p.position.quantity == 100 for p in rig.events.of(PositionUpdated)),
        what="position update",
    )
    (position,) = await rig.broker.positions()
    assert (position.instrument.symbol, position.quantity) == ("AAPL", Decimal(100))
    executions = await rig.broker.executions()
    assert {e.exec_id for e in executions} == {f.exec_id for f in fills}
    assert not rig.cancelled(ref)


async def test_rejection_keeps_the_reason_and_is_final(rig: Rig) -> None:
    ref = order_ref_for("rej1")
    rig.gateway.faults.reject_next_orders(reason="Order rejected - reason:margin")
    await rig.broker.submit(market(ref))
    await eventually(lambda: rig.events.of(OrderRejected), what="rejection")
    (rejected,) = rig.events.of(OrderRejected)
    assert (rejected.order_ref, rejected.code) == (ref, 201)
    assert "margin" in rejected.reason
    assert await rig.broker.open_orders() == []
    assert not rig.cancelled(ref)  # ib_async's local "Cancelled" never leaks out
    assert not rig.fills(ref)


async def test_validation_rejection_of_a_bad_price(rig: Rig) -> None:
    ref = order_ref_for("rej2")
    await rig.broker.submit(limit(ref, price="150.005"))  # off the 0.01 tick
    await eventually(lambda: rig.events.of(OrderRejected), what="rejection")
    (rejected,) = rig.events.of(OrderRejected)
    assert rejected.order_ref == ref and rejected.code == 110
    await rig.broker.quiesce()  # the confirming re-fetch must not add anything
    assert not rig.cancelled(ref)


async def test_cancel_is_confirmed_by_the_broker(rig: Rig) -> None:
    ref = order_ref_for("c1")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    (working,) = await rig.broker.open_orders()
    assert working.order_ref == ref and working.perm_id == rig.accepted(ref).perm_id  # type: ignore[union-attr]
    await rig.broker.cancel(ref)
    await eventually(lambda: rig.cancelled(ref), what="cancel")
    assert len(rig.cancelled(ref)) == 1
    assert rig.cancelled(ref)[0].filled == 0
    assert await rig.broker.open_orders() == []
    await rig.broker.cancel(ref)  # already final: a no-op, not an error
    assert not rig.events.of(CancelRejected)


async def test_bracket_is_placed_as_an_ib_bracket(rig: Rig) -> None:
    req = limit(order_ref_for("b1")).model_copy(
        update={"stop_loss": Decimal("140.00"), "take_profit": Decimal("160.00")}
    )
    await rig.broker.submit(req)
    refs = [
        order_ref_for("b1", leg)
        for leg in (OrderLeg.ENTRY, OrderLeg.TAKE_PROFIT, OrderLeg.STOP_LOSS)
    ]
    await eventually(lambda: all(rig.accepted(r) for r in refs), what="three acks")
    by_ref = {o.order_ref: o for o in await rig.broker.open_orders()}
    assert set(by_ref) == set(refs)
    parent_perm = by_ref[refs[0]].perm_id
    venue_orders = {o.perm_id: o for o in rig.gateway.venue.orders(open_only=True)}
    tp, sl = venue_orders[by_ref[refs[1]].perm_id], venue_orders[by_ref[refs[2]].perm_id]
    assert tp.parent_perm_id == sl.parent_perm_id == parent_perm
    assert tp.oca_group and tp.oca_group == sl.oca_group
    await rig.broker.cancel(refs[0])  # cancelling the parent takes the children along
    await eventually(lambda: all(rig.cancelled(r) for r in refs), what="bracket cancelled")


async def test_cancel_all_cancels_twenty_working_orders(rig: Rig) -> None:
    refs = [order_ref_for(f"ca{i}") for i in range(20)]
    for i, ref in enumerate(refs):
        await rig.broker.submit(limit(ref, price=f"{150 + i}.00"))
    await eventually(lambda: all(rig.accepted(r) for r in refs), what="20 acks")
    assert len(await rig.broker.open_orders()) == 20
    await rig.broker.cancel_all()
    await eventually(lambda: all(rig.cancelled(r) for r in refs), what="20 cancels")
    assert all(len(rig.cancelled(r)) == 1 for r in refs)
    assert await rig.broker.open_orders() == []


async def test_fill_during_a_disconnect_is_recovered_after_reconnect(rig: Rig) -> None:
    ref = order_ref_for("gap1")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    accepted = rig.accepted(ref)
    assert accepted is not None

    rig.sleep.gate.clear()  # hold the reconnect loop
    rig.gateway.faults.drop_connections()
    await eventually(lambda: rig.events.of(BrokerDisconnected), what="disconnect")
    assert not rig.broker.connected
    with pytest.raises(BrokerUnavailable):
        await rig.broker.submit(limit(order_ref_for("gap2")))
    # the order fills at the venue while nobody listens
    rig.gateway.faults.fill_order(CLIENT_ID, accepted.broker_order_id, price=Decimal("150.00"))
    assert not rig.fills(ref)

    rig.sleep.gate.set()
    await eventually(lambda: len(rig.events.of(BrokerConnected)) == 2, what="reconnect")
    (fill,) = rig.fills(ref)
    assert (fill.quantity, fill.price, fill.remaining) == (Decimal(100), Decimal(150), 0)
    reconnected = rig.events.of(BrokerConnected)[-1]
    # recovered during the resync, before the session opened for new orders
    assert rig.events.events.index(fill) < rig.events.events.index(reconnected)
    assert rig.broker.connected
    assert await rig.broker.open_orders() == []
    (position,) = await rig.broker.positions()
    assert position.quantity == 100

    # another resync does not deliver the same execution again
    rig.gateway.faults.connectivity_restored(data_lost=False)
    await eventually(lambda: rig.events.of(ConnectivityChanged), what="1102 handled")
    await rig.broker.quiesce()
    assert rig.broker.connected
    assert len(rig.fills(ref)) == 1


async def test_cancel_while_disconnected_is_sent_after_the_resync(rig: Rig) -> None:
    ref = order_ref_for("cd1")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    rig.sleep.gate.clear()
    rig.gateway.faults.drop_connections()
    await eventually(lambda: rig.events.of(BrokerDisconnected), what="disconnect")
    await rig.broker.cancel(ref)  # kept, not dropped
    assert not rig.cancelled(ref)
    rig.sleep.gate.set()
    await eventually(lambda: rig.cancelled(ref), what="cancel after reconnect")
    assert await rig.broker.open_orders() == []


async def test_fill_beats_the_cancel(rig: Rig) -> None:
    ref = order_ref_for("race1")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    rig.gateway.faults.fill_on_next_cancel()
    await rig.broker.cancel(ref)
    await eventually(lambda: rig.fills(ref), what="the fill")
    await eventually(lambda: rig.events.of(CancelRejected), what="cancel rejected")
    (rejected,) = rig.events.of(CancelRejected)
    assert rejected.order_ref == ref
    assert not rig.cancelled(ref)
    assert sum(f.quantity for f in rig.fills(ref)) == 100


async def test_failed_modify_leaves_the_order_working(rig: Rig) -> None:
    ref = order_ref_for("mod1")
    await rig.broker.submit(limit(ref))
    await eventually(lambda: rig.accepted(ref), what="ack")
    rig.gateway.faults.fail_next_modify()
    # the port has no modify; send one through ib_async to provoke the failure
    (trade,) = [t for t in rig.broker._ib.openTrades() if t.order.orderRef == ref]
    trade.order.lmtPrice = 151.0
    rig.broker._ib.placeOrder(trade.contract, trade.order)
    await eventually(lambda: rig.events.of(ModifyRejected), what="modify rejected")
    await rig.broker.quiesce()  # let the confirming re-fetch run
    assert not rig.cancelled(ref)  # ib_async said "Cancelled" locally; the broker did not
    (working,) = await rig.broker.open_orders()
    assert working.order_ref == ref


@pytest.mark.slow
async def test_burst_of_200_submits_draws_no_error_100(rig: Rig) -> None:
    refs = [order_ref_for(f"burst{i}") for i in range(200)]
    await asyncio.wait_for(
        asyncio.gather(*(rig.broker.submit(limit(r, price="120.00", qty=1)) for r in refs)),
        timeout=15,
    )
    await eventually(lambda: all(rig.accepted(r) for r in refs), timeout=10, what="200 acks")
    assert not rig.events.of(PacingViolation)
    assert not rig.events.of(OrderRejected)
    assert all(s.pacer.violations == 0 for s in rig.gateway.sessions)


async def test_quotes_stream(rig: Rig) -> None:
    await rig.broker.subscribe_quotes(AAPL)
    rig.gateway.venue.step("AAPL")
    await eventually(lambda: rig.events.of(QuoteUpdated), what="a quote")
    quote = rig.events.of(QuoteUpdated)[-1].quote
    assert quote.symbol == "AAPL"
    assert quote.bid is not None and quote.ask is not None and quote.bid <= quote.ask


async def test_second_session_with_the_same_client_id_gets_326_fast(rig: Rig) -> None:
    other = IbkrBroker("127.0.0.1", rig.gateway.port, CLIENT_ID, connect_timeout_s=5)
    with pytest.raises(ClientIdInUse):
        await asyncio.wait_for(other.connect(), 2)
    assert rig.broker.connected


async def test_reconnect_meets_326_and_backs_off(rig: Rig) -> None:
    rig.sleep.gate.clear()
    rig.gateway.faults.drop_connections()
    await eventually(lambda: rig.events.of(BrokerDisconnected), what="disconnect")
    # a ghost session grabs our client id before we are back
    ghost = IbkrBroker("127.0.0.1", rig.gateway.port, CLIENT_ID, connect_timeout_s=5)
    await ghost.connect()
    rig.sleep.gate.set()
    await eventually(lambda: len(rig.sleep.delays) >= 3, what="retries")
    await ghost.disconnect()
    await eventually(lambda: len(rig.events.of(BrokerConnected)) == 2, timeout=10, what="back")
    after_326 = rig.sleep.delays[1:-1] or rig.sleep.delays[1:]
    assert all(d >= ReconnectPolicy().client_id_in_use_delay_s for d in after_326)


async def test_cancel_all_while_disconnected_is_sent_after_the_resync(rig: Rig) -> None:
    refs = [order_ref_for(f"cad{i}") for i in range(3)]
    for ref in refs:
        await rig.broker.submit(limit(ref))
    await eventually(lambda: all(rig.accepted(r) for r in refs), what="acks")
    rig.sleep.gate.clear()
    rig.gateway.faults.drop_connections()
    await eventually(lambda: rig.events.of(BrokerDisconnected), what="disconnect")
    await rig.broker.cancel_all()  # the kill switch pressed while away: kept
    rig.sleep.gate.set()
    await eventually(lambda: all(rig.cancelled(r) for r in refs), what="cancels after reconnect")
    assert await rig.broker.open_orders() == []


async def test_connectivity_lost_and_restored_with_data_lost(rig: Rig) -> None:
    await rig.broker.subscribe_quotes(AAPL)
    rig.gateway.venue.step("AAPL")
    await eventually(lambda: rig.events.of(QuoteUpdated), what="a quote")
    rig.gateway.faults.connectivity_lost()
    await eventually(lambda: not rig.broker.connected, what="orders blocked")
    with pytest.raises(BrokerUnavailable):
        await rig.broker.submit(limit(order_ref_for("cl1")))
    rig.gateway.faults.connectivity_restored(data_lost=True)
    await eventually(lambda: rig.broker.connected, what="restored after resync")
    before = len(rig.events.of(QuoteUpdated))
    rig.gateway.venue.step("AAPL")
    await eventually(lambda: len(rig.events.of(QuoteUpdated)) > before, what="quotes again")
    await rig.broker.submit(limit(order_ref_for("cl2")))
    await eventually(lambda: rig.accepted(order_ref_for("cl2")), what="orders flow again")


async def test_a_restart_adopts_working_orders_and_never_resubmits(rig: Rig) -> None:
    working, done = order_ref_for("rs1"), order_ref_for("rs2")
    await rig.broker.submit(limit(working))
    await rig.broker.submit(market(done, qty=5))
    await eventually(lambda: rig.accepted(working) and rig.fills(done), what="ack and fill")
    (seen_fill,) = rig.fills(done)
    await rig.broker.disconnect()

    # a new process: same client id, the engine already applied the earlier fill
    events = Recorder()
    again = IbkrBroker(
        "127.0.0.1",
        rig.gateway.port,
        CLIENT_ID,
        connect_timeout_s=5,
        known_exec_ids=[seen_fill.exec_id],
    )
    again.set_event_sink(events)
    await again.connect()
    try:
        assert not events.of(OrderFilled)  # nothing re-delivered
        assert [o.order_ref for o in await again.open_orders()] == [working]
        with pytest.raises(ValueError, match="already placed"):
            await again.submit(limit(working))
        await again.cancel(working)
        await eventually(lambda: events.of(OrderCancelled), what="cancel of the adopted order")
        assert await again.open_orders() == []
    finally:
        await again.disconnect()


async def test_a_restart_recovers_fills_the_engine_has_not_seen(rig: Rig) -> None:
    ref = order_ref_for("rs3")
    await rig.broker.submit(market(ref, qty=7))
    await eventually(lambda: rig.fills(ref), what="fill")
    await rig.broker.disconnect()
    events = Recorder()
    again = IbkrBroker("127.0.0.1", rig.gateway.port, CLIENT_ID, connect_timeout_s=5)
    again.set_event_sink(events)
    await again.connect()
    try:
        (fill,) = events.of(OrderFilled)
        assert (fill.order_ref, fill.exec_id, fill.quantity) == (
            ref,
            rig.fills(ref)[0].exec_id,
            Decimal(7),
        )
    finally:
        await again.disconnect()


async def test_probe_against_the_gateway(rig: Rig) -> None:
    result = await probe("127.0.0.1", rig.gateway.port, client_id=99, timeout_s=5)
    assert result.account.account_id == rig.gateway.account
    assert result.account.is_paper
    assert result.account.net_liquidation is not None


async def test_heartbeat_answered_keeps_the_session() -> None:
    async with running_gateway() as gateway:
        events = Recorder()
        broker = IbkrBroker(
            "127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5, heartbeat_s=0.05
        )
        broker.set_event_sink(events)
        await broker.connect()
        try:
            await eventually(lambda: broker.heartbeats_answered >= 3, what="three heartbeats")
            assert broker.heartbeat_rtt_s is not None
            assert broker.connected
            assert not events.of(BrokerDisconnected)
        finally:
            await broker.disconnect()


async def test_orders_dropped_by_broker_pacing_are_reported_rejected_not_left_waiting() -> None:
    from broker.gateway import PacingPolicy

    strict = PacingPolicy(max_per_second=6, max_violations=1000)  # drop, never disconnect
    async with running_gateway(pacing=strict) as gateway:
        clock = ManualClock()
        broker = IbkrBroker("127.0.0.1", gateway.port, CLIENT_ID, connect_timeout_s=5, clock=clock)
        events = Recorder()
        broker.set_event_sink(events)
        await broker.connect()
        await asyncio.sleep(1.1)  # a fresh pacing window
        bid = gateway.venue.quote("AAPL").bid
        refs = [order_ref_for(f"pace-{i}") for i in range(10)]
        for i, ref in enumerate(refs):
            await broker.submit(
                OrderRequest(
                    order_ref=ref,
                    instrument=AAPL,
                    side=Side.BUY,
                    quantity=Decimal(1),
                    order_type=OrderType.LIMIT,
                    limit_price=bid - Decimal("1.00") - Decimal(i) / 100,
                )
            )

        def outcome(ref: str) -> str | None:
            if any(e.order_ref == ref for e in events.of(OrderAccepted)):
                return "accepted"
            if any(e.order_ref == ref for e in events.of(OrderRejected)):
                return "rejected"
            return None

        await eventually(lambda: all(outcome(r) for r in refs), timeout=15)
        at_venue = {o.order_ref for o in gateway.venue.orders()}
        rejected = [r for r in refs if outcome(r) == "rejected"]
        assert events.of(PacingViolation) and rejected
        assert all(r not in at_venue for r in rejected)  # dropped: never placed
        assert all(r in at_venue for r in refs if outcome(r) == "accepted")
        assert all(e.code == 100 for e in events.of(OrderRejected))
        await broker.disconnect()
