"""Chaos vectors beyond the seed: what IBKR users actually hit (kill paths, gaps, restarts)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal

from broker.ibkr.adapter import IbkrBroker
from broker.ibkr.safety import BrokerRefused
from broker.sim.events import VenueOrderEvent
from console.drills.chaos import CLIENT_ID, Rig, VectorFailed, expect
from contracts.config import Config
from contracts.enums import LifecycleState, Mode
from engine.engine import Engine

# --- issue #5 item 6: what IBKR users actually hit ------------------------------------------------


async def kill_while_disconnected(r: Rig) -> tuple[str, str]:
    intent, ref = await r.working()
    r.sleep.hold()
    r.gateway.faults.drop_connections()
    await r.until(lambda: not r.engine.connected, what="the disconnect")
    await r.engine.kill("chaos: kill while disconnected")
    await r.settle(0.3)
    snap = r.engine.snapshot()
    view = next(o for o in snap.orders if o.intent_id == intent.intent_id)
    expect(snap.kill_confirmed is False, f"kill_confirmed={snap.kill_confirmed} while down")
    expect(view.unknown, "the working order is not shown as unknown while disconnected")
    expect(r.venue_orders(ref)[0].is_open, "order gone while the cancel could not be sent")
    r.sleep.release()
    took = await r.until(lambda: r.engine.book.kill_confirmed is True, what="kill confirmation")
    expect(not r.venue_orders(ref)[0].is_open, "order still live after the confirmation")
    return "HALTED while down shows unconfirmed; cancel re-sent on reconnect", (
        f"cancel confirmed {took:.2f} s after reconnect"
    )


async def kill_with_queue(r: Rig) -> tuple[str, str]:
    for _ in range(5):
        await r.working(quantity=1)
    intents = [await r.propose(quantity=1, offset=Decimal(n) / 100) for n in range(200)]
    approvals = [asyncio.ensure_future(r.approve(i.intent_id)) for i in intents]
    await r.until(lambda: len(r.venue_orders()) >= 20, what="the first queued orders")
    global_cancel: list[int] = []  # perm ids the venue knew when the global cancel arrived

    def on_venue(event: object) -> None:
        if (
            not global_cancel
            and isinstance(event, VenueOrderEvent)
            and event.reason == "global cancel"
        ):
            global_cancel.append(max(o.perm_id for o in r.venue_orders()))

    unsubscribe = r.gateway.venue.subscribe(on_venue)
    started = time.monotonic()
    await r.engine.kill("chaos: kill with 200 queued")
    cancelled = await r.until(
        lambda: not any(o.is_open for o in r.venue_orders()), what="the venue to be flat"
    )
    await r.until(lambda: r.engine.book.kill_confirmed is True, limit_s=10, what="confirmation")
    took = time.monotonic() - started
    results = await asyncio.gather(*approvals)
    unsubscribe()
    held = sum(1 for x in results if x.code == "HALTED")
    expect(global_cancel, "the venue never saw the global cancel")
    late = [o.order_ref for o in r.venue_orders() if o.perm_id > global_cancel[0]]
    expect(not late, f"{len(late)} orders reached the venue after the global cancel: {late}")
    expect(not any(o.is_open for o in r.venue_orders()), "orders still live after the kill")
    return "kill with 200 approvals queued behind the throttle: cancel first, queue held", (
        f"all cancelled in {cancelled:.2f} s (confirmed {took:.1f} s), "
        f"{held} queued orders never sent"
    )


async def fill_after_cancel(r: Rig) -> tuple[str, str]:
    intent, ref = await r.working()
    r.gateway.faults.fill_on_next_cancel()
    await r.broker.cancel(ref)
    rec = r.rec(intent.intent_id)
    await r.until(lambda: rec.entry_filled == 10, what="the fill that beat the cancel")
    await r.until(lambda: r.alerted("CANCEL_REJECTED"), what="the cancel rejection")
    await r.settle()
    expect(rec.state is LifecycleState.MANAGED, f"state {rec.state}")
    return "the fill beat the cancel (10148): fill kept, bracket managed", (
        f"{rec.entry_filled}/{rec.requested} filled, state {rec.state.value}"
    )


async def failed_modify(r: Rig) -> tuple[str, str]:
    intent, ref = await r.working()
    r.gateway.faults.fail_next_modify()
    trade = next(t for t in r.broker._ib.openTrades() if t.order.orderRef == ref)
    trade.order.lmtPrice = float(str(trade.order.lmtPrice)) - 0.01  # a modify from TWS/API
    r.broker._ib.placeOrder(trade.contract, trade.order)
    await r.until(lambda: r.alerted("MODIFY_REJECTED"), what="the modify rejection")
    await r.settle(0.5)
    rec = r.rec(intent.intent_id)
    expect(rec.state is LifecycleState.SUBMITTED, f"state {rec.state} after a failed modify")
    expect(r.venue_orders(ref)[0].is_open, "the venue order is not live")
    live = [o.order_ref for o in await r.broker.open_orders()]
    expect(ref in live, "the adapter lost the live order")
    return "modify refused (105) while the order stays live: still SUBMITTED", (
        "order live at the venue, 0 false cancels"
    )


async def _gap(r: Rig, data_lost: bool) -> tuple[str, str]:
    intent, _ref = await r.working()
    rec = r.rec(intent.intent_id)
    r.gateway.faults.connectivity_lost()
    await r.until(lambda: not r.engine.connected, what="1100")
    during = await r.engine.propose(r.intent())
    expect(not during.accepted, "an entry was accepted during 1100")
    sessions = list(r.gateway.sessions)
    for s in sessions:
        s.ready = False  # IB to TWS is down: nothing reaches the client in the gap
    r.gateway.faults.fill_order(CLIENT_ID, rec.broker_order_id)
    expect(rec.entry_filled == 0, "the gap fill leaked through")
    for s in sessions:
        s.ready = True
    started = time.monotonic()
    r.gateway.faults.connectivity_restored(data_lost=data_lost)
    await r.until(lambda: rec.entry_filled == 10 and r.engine.connected, what="resync")
    took = time.monotonic() - started
    await r.settle()
    fills = len(r.beads(intent.intent_id, "FILL"))
    expect(fills == 1, f"{fills} FILL beads for one execution")
    code = 1101 if data_lost else 1102
    return f"1100, fill in the gap, {code}: fill recovered once, entries blocked in the gap", (
        f"gap fill recovered {took:.2f} s after {code}"
    )


async def gap_fill_1101(r: Rig) -> tuple[str, str]:
    return await _gap(r, data_lost=True)


async def gap_fill_1102(r: Rig) -> tuple[str, str]:
    return await _gap(r, data_lost=False)


async def farm_status(r: Rig) -> tuple[str, str]:
    intent, _ = await r.working()
    before = r.beads(intent.intent_id)
    for ok in (False, True, False, True):
        r.gateway.faults.farm_status(ok)
    await r.until(lambda: r.engine.snapshot().connection.farms, what="farm status")
    await r.settle()
    after = r.beads(intent.intent_id)
    expect(before == after, f"order beads changed: {after[len(before) :]}")
    expect(r.rec(intent.intent_id).state is LifecycleState.SUBMITTED, "order state changed")
    return "2103/2105/2157 and 2104/2106/2158 x2: data health only", (
        "12 farm messages, 0 order-state changes"
    )


async def live_port_refused(r: Rig) -> tuple[str, str]:
    from console.compose import StartupRefused, live_confirmation

    connections = 0

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    listener = None
    with contextlib.suppress(OSError):
        listener = await asyncio.start_server(on_connect, "127.0.0.1", 7496)
    try:
        live = IbkrBroker("127.0.0.1", 7496, 9, connect_timeout_s=1)
        try:
            await live.connect()
            raise VectorFailed("connected to a live port without confirmation")
        except BrokerRefused:
            pass
        engine = Engine(r.config, live, data_dir=r.data_dir / "live", clock=r.clock)
        await engine.start()
        refused = await engine.propose(r.intent())
        await engine.stop()
        expect(not engine.connected and not refused.accepted, "the live engine took an order")
    finally:
        if listener is not None:
            listener.close()
    config = Config(mode=Mode.LIVE, account="U1234567")
    try:
        live_confirmation(config, environ={})
        raise VectorFailed("live mode started without DESKGATE_LIVE_CONFIRM")
    except StartupRefused:
        pass
    expect(connections == 0, f"{connections} connections reached port 7496")
    return "port 7496 without live confirmation: refused before any socket", (
        f"{connections} connections to the live port"
    )


async def changed_while_down(r: Rig) -> tuple[str, str]:
    a, ref_a = await r.working()
    b, _ref_b = await r.working(offset=Decimal("0.01"))
    oid_b = r.rec(b.intent_id).broker_order_id
    await r.engine.stop()
    placed = len(r.venue_orders())
    r.gateway.venue.cancel(r.venue_orders(ref_a)[0].perm_id, "cancelled in TWS")
    r.gateway.faults.fill_order(CLIENT_ID, oid_b)
    r.new_engine()
    await r.engine.start()
    expect(r.engine.connected, "the restarted engine did not connect")
    await r.until(
        lambda: (
            r.rec(a.intent_id).state is LifecycleState.CANCELLED
            and r.rec(b.intent_id).state is LifecycleState.MANAGED
        ),
        what="both intents resolved from the broker",
    )
    await r.settle()
    resent = len(r.venue_orders()) - placed
    expect(resent == 0, f"{resent} orders resent")
    expect(r.rec(b.intent_id).entry_filled == 10, "the fill while down was not recovered")
    return "one order cancelled and one filled in TWS while deskgate was down", (
        f"2/2 resolved from broker state, {resent} resent"
    )
