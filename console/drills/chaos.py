"""The chaos suite: attack vectors run by the real engine + IbkrBroker against the gateway.

Every vector gets a fresh TWS-protocol gateway over a seeded venue on a loopback port, a real
`IbkrBroker` (ib_async) and a real `Engine` on a fresh data dir, sharing one manual clock so
token expiry, STALLED timeouts and stale state are exact. The gateway's `FaultInjector` plays
the broker's part. A vector returns one line and one figure, or raises `VectorFailed`.

`deskgate chaos [--report PATH]` runs them all and writes CHAOS_REPORT.md;
tests/chaos/test_chaos.py runs each one as a test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from broker.gateway.server import GatewayServer
from broker.gateway.testing import running_gateway
from broker.ibkr.adapter import IbkrBroker
from broker.sim.orders import OrderSpec, SimOrder
from contracts.broker import BrokerEvent, OrderFilled, order_ref_for
from contracts.config import Config
from contracts.enums import (
    DenialReason,
    DriftType,
    LifecycleState,
    OrderType,
    Regime,
    Side,
    TokenRejection,
    TradingState,
    Trigger,
)
from contracts.intent import CheckResult, Evidence, Instrument, Intent, OrderParams
from engine.clock import ManualClock
from engine.engine import Engine
from engine.orders import order_request_for
from engine.results import CommandResult

ACCOUNT = "DU1234567"
CLIENT_ID = 3
SYMBOL = "AAPL"
INSTRUMENT = Instrument(symbol=SYMBOL, primary_exchange="NASDAQ")


class VectorFailed(AssertionError):
    """The engine did not behave as the vector demands."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise VectorFailed(message)


@dataclass(frozen=True)
class VectorResult:
    name: str
    title: str
    passed: bool
    line: str
    figure: str
    seconds: float


class HeldSleep:
    """The adapter's reconnect sleep: `hold()` keeps the reconnect loop waiting."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    async def __call__(self, seconds: float) -> None:
        await self.gate.wait()
        await asyncio.sleep(min(seconds, 0.01))


@dataclass
class Rig:
    """One gateway, one IbkrBroker, one Engine, one manual clock, one data dir."""

    gateway: GatewayServer
    engine: Engine
    broker: IbkrBroker
    clock: ManualClock
    sleep: HeldSleep
    data_dir: Path
    config: Config
    drop: set[type] = field(default_factory=set)
    """Broker event types lost on the way to the engine (one each)."""
    _seq: int = 0

    # --- building ----------------------------------------------------------------------------

    def _sink(self, event: BrokerEvent) -> None:
        kind = type(event)
        if kind in self.drop:
            self.drop.discard(kind)
            return
        self.engine.handle_broker_event(event)

    def new_engine(self) -> None:
        """A fresh adapter + engine on the same data dir (a restart)."""
        self.broker = IbkrBroker(
            "127.0.0.1",
            self.gateway.port,
            CLIENT_ID,
            connect_timeout_s=5,
            request_timeout_s=5,
            clock=self.clock,
            sleep=self.sleep,
        )
        self.engine = Engine(self.config, self.broker, data_dir=self.data_dir, clock=self.clock)
        self.broker.set_event_sink(self._sink)

    # --- the venue ---------------------------------------------------------------------------

    @property
    def venue_quote(self) -> tuple[Decimal, Decimal]:
        q = self.gateway.venue.quote(SYMBOL)
        return q.bid, q.ask

    def venue_orders(self, ref: str | None = None) -> list[SimOrder]:
        orders = self.gateway.venue.orders(ACCOUNT)
        return [o for o in orders if ref is None or o.order_ref == ref]

    async def fresh_quote(self) -> None:
        """Re-show the venue's price and wait until the engine has it at the clock's now."""
        bid, ask = self.venue_quote
        self.gateway.venue.set_price(SYMBOL, bid, ask)
        await self.until(
            lambda: (q := self.engine.quote(SYMBOL)) is not None and q.ts >= self.clock.now(),
            what="a fresh quote",
        )

    # --- the engine --------------------------------------------------------------------------

    def intent(
        self,
        *,
        quantity: int = 10,
        resting: bool = True,
        offset: Decimal = Decimal(0),
        state_age_min: float = 0.0,
        regime: Regime = Regime.NORMAL,
    ) -> Intent:
        """A limit buy with a bracket stop 10 ticks under: resting 1.00 under the bid, or
        marketable 5 cents over the ask."""
        self._seq += 1
        self.clock.advance(0.001)  # identical orders are told apart by time
        bid, ask = self.venue_quote
        limit = (bid - Decimal("1.00") - offset) if resting else ask + Decimal("0.05")
        return Intent(
            intent_id=f"cx-{self._seq}",
            strategy="chaos",
            order=OrderParams(
                instrument=INSTRUMENT,
                side=Side.BUY,
                quantity=Decimal(quantity),
                order_type=OrderType.LIMIT,
                limit_price=limit,
                stop_loss=limit - Decimal("0.10"),
            ),
            state_hash="chaos",
            state_ts=self.clock.now() - timedelta(minutes=state_age_min),
            regime=regime,
            evidence=Evidence(
                setup_quality=70,
                htf_alignment=True,
                ltf_alignment=True,
                red_checks=(CheckResult(name="chaos", passed=True),),
                state_freshness_s=state_age_min * 60,
            ),
        )

    async def propose(self, **kw: Any) -> Intent:
        intent = self.intent(**kw)
        result = await self.engine.propose(intent, source="chaos")
        expect(result.accepted, f"proposal refused: {result.message}")
        return intent

    async def approve(self, intent_id: str) -> CommandResult:
        return await self.engine.approve(intent_id, self.engine.pending_token(intent_id) or "")

    async def working(self, **kw: Any) -> tuple[Intent, str]:
        """A proposed, approved and acknowledged resting order; returns it and its orderRef."""
        intent = await self.propose(**kw)
        result = await self.approve(intent.intent_id)
        expect(result.ok, f"approval failed: {result.message}")
        await self.until(lambda: self.rec(intent.intent_id).acked_at is not None, what="ack")
        return intent, order_ref_for(intent.intent_id)

    def rec(self, intent_id: str) -> Any:
        return self.engine.book.records[intent_id]

    def beads(self, intent_id: str | None = None, kind: str | None = None) -> list[str]:
        self.engine.store.flush()
        return [
            r.kind
            for r in self.engine.store.rows()
            if (intent_id is None or r.intent_id == intent_id) and (kind is None or r.kind == kind)
        ]

    def alerted(self, code: str) -> bool:
        return any(a.code == code for a in self.engine.book.alerts)

    async def reconcile(self) -> CommandResult:
        """Reconcile now; if order events raced the comparison, once more."""
        for _ in range(5):
            result = await self.engine.reconcile("chaos")
            if result.code != "RETRY":
                return result
            await asyncio.sleep(0.05)
        return result

    async def until(
        self, predicate: Callable[[], object], limit_s: float = 5.0, what: str = ""
    ) -> float:
        """Wait for a condition (real time); returns the seconds it took."""
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > limit_s:
                raise VectorFailed(f"timed out after {limit_s:.0f}s waiting for {what or 'it'}")
            await asyncio.sleep(0.005)
        return time.monotonic() - started

    async def settle(self, seconds: float = 0.2) -> None:
        """Give anything that should NOT happen a chance to happen."""
        await asyncio.sleep(seconds)


def chaos_config(data_dir: Path) -> Config:
    base = Config()
    return base.model_copy(
        update={
            "data_dir": str(data_dir),
            "risk": base.risk.model_copy(
                update={
                    "max_trades_per_day": 10_000,
                    "duplicate_window_s": 0.0,
                    "max_position": Decimal(10**6),
                }
            ),
        }
    )


@asynccontextmanager
async def rig(data_dir: Path) -> AsyncIterator[Rig]:
    async with running_gateway(account=ACCOUNT) as gateway:
        clock = ManualClock(datetime.now(UTC))
        config = chaos_config(data_dir)
        r = Rig(gateway, None, None, clock, HeldSleep(), data_dir, config)  # type: ignore[arg-type]
        r.new_engine()
        await r.engine.start()
        try:
            expect(r.engine.connected, "the engine did not connect to the gateway")
            yield r
        finally:
            r.sleep.release()
            await r.engine.stop()


# --- issue #5 item 5: tokens, the order path, reconciliation, the kill flag ----------------------


async def token_replay(r: Rig) -> tuple[str, str]:
    intent = await r.propose()
    token = r.engine.pending_token(intent.intent_id) or ""
    first = await r.engine.approve(intent.intent_id, token)
    again = await r.engine.approve(intent.intent_id, token)
    expect(first.ok, f"first approval failed: {first.message}")
    expect(again.code == TokenRejection.ALREADY_USED, f"replay answered {again.code}")
    ref = order_ref_for(intent.intent_id)
    await r.until(lambda: r.venue_orders(ref), what="the order at the venue")
    await r.settle()
    n = len(r.venue_orders(ref))
    expect(n == 1, f"{n} orders at the venue for one token")
    return "second use of a token refused ALREADY_USED; one order left", f"{n} order at the venue"


async def expired_token(r: Rig) -> tuple[str, str]:
    intent = await r.propose()
    token = r.engine.pending_token(intent.intent_id) or ""
    r.clock.advance(301)
    await r.fresh_quote()
    result = await r.engine.approve(intent.intent_id, token)
    expect(result.code == TokenRejection.EXPIRED, f"expired token answered {result.code}")
    r.engine.tick()
    state = r.rec(intent.intent_id).state
    expect(state is LifecycleState.EXPIRED, f"intent is {state}, not EXPIRED")
    await r.settle()
    n = len(r.venue_orders())
    expect(n == 0, f"{n} orders sent")
    return "token used after 5 min 1 s refused EXPIRED; intent EXPIRED", f"{n} orders sent"


async def token_for_another_intent(r: Rig) -> tuple[str, str]:
    a = await r.propose()
    b = await r.propose(quantity=5)
    result = await r.engine.approve(b.intent_id, r.engine.pending_token(a.intent_id) or "")
    expect(result.code == TokenRejection.WRONG_INTENT, f"answered {result.code}")
    await r.settle()
    n = len(r.venue_orders())
    expect(n == 0, f"{n} orders sent")
    return "A's token presented for B refused WRONG_INTENT", f"{n} orders sent"


async def order_without_token(r: Rig) -> tuple[str, str]:
    intent = await r.propose()
    codes = []
    for bogus in ("", "not-a-token", "x" * 43):
        result = await r.engine.approve(intent.intent_id, bogus)
        expect(not result.ok, f"approval with {bogus!r} accepted")
        codes.append(result.code)
    rec = r.rec(intent.intent_id)
    try:
        await r.engine.order_path.send(rec, order_request_for(intent), token_id=None)
    except PermissionError:
        pass
    else:
        raise VectorFailed("the send path accepted an order with no token and no exemption")
    await r.settle()
    n = len(r.venue_orders())
    expect(n == 0, f"{n} orders sent")
    expect(set(codes) <= {TokenRejection.NO_TOKEN, TokenRejection.UNKNOWN_TOKEN}, str(codes))
    return "empty/unknown tokens refused; tokenless send raises PermissionError", f"{n} orders sent"


async def racing_validations(r: Rig) -> tuple[str, str]:
    rounds = 20
    for _ in range(rounds):
        intent = await r.propose(quantity=1)
        token = r.engine.pending_token(intent.intent_id) or ""
        a, b = await asyncio.gather(
            r.engine.approve(intent.intent_id, token), r.engine.approve(intent.intent_id, token)
        )
        expect(a.ok != b.ok, f"race answered {a.code!r} and {b.code!r}")
        expect((b if a.ok else a).code == TokenRejection.ALREADY_USED, "loser not ALREADY_USED")
    await r.until(lambda: len(r.venue_orders()) >= rounds * 2, what="all orders (entry + stop)")
    await r.settle()
    refs = [o.order_ref for o in r.venue_orders()]
    expect(len(refs) == len(set(refs)) == rounds * 2, f"{len(refs)} orders, {len(set(refs))} refs")
    return (
        "two approvals race for one token: exactly one wins",
        f"{rounds}/{rounds} races, 1 winner each",
    )


async def broker_timeout(r: Rig) -> tuple[str, str]:
    r.gateway.faults.delay_next_acks(0.5, count=2)  # entry and its stop stay PendingSubmit
    intent = await r.propose()
    expect((await r.approve(intent.intent_id)).ok, "approval failed")
    r.clock.advance(61)
    r.engine.tick()
    rec = r.rec(intent.intent_id)
    expect(rec.state is LifecycleState.STALLED, f"after 61 s without ack: {rec.state}")
    expect(r.alerted("STALLED"), "no STALLED alert")
    took = await r.until(lambda: rec.state is LifecycleState.SUBMITTED, what="the late ack")
    return "no ack for 61 s: STALLED + CRITICAL alert; late ack moves it on", (
        f"STALLED at 61 s, late ack after {took + 0.0:.2f} s"
    )


async def broker_rejection(r: Rig) -> tuple[str, str]:
    r.gateway.faults.reject_next_orders(2)  # insufficient margin
    intent = await r.propose(resting=False)
    await r.approve(intent.intent_id)
    rec = r.rec(intent.intent_id)
    await r.until(lambda: rec.state is LifecycleState.REJECTED, what="REJECTED")
    expect(r.alerted("REJECTED"), "no REJECTED alert")
    await r.settle(0.5)
    n = len(r.venue_orders(order_ref_for(intent.intent_id)))
    expect(n == 1, f"{n} attempts at the venue")
    return (
        "201 insufficient margin: REJECTED, alert, reason kept, no retry",
        f"{n} attempt, 0 retries",
    )


async def partial_fill(r: Rig) -> tuple[str, str]:
    intent, _ = await r.working()
    rec = r.rec(intent.intent_id)
    r.gateway.faults.fill_order(CLIENT_ID, rec.broker_order_id, Decimal(5))
    await r.until(lambda: rec.entry_filled == 5, what="the partial fill")
    view = next(o for o in r.engine.snapshot().orders if o.intent_id == intent.intent_id)
    expect(view.ratio == Decimal("0.5"), f"ratio {view.ratio}")
    expect(rec.state is LifecycleState.SUBMITTED, f"state {rec.state}")
    return "5 of 10 filled: SUBMITTED, filled/requested tracked", f"ratio {view.ratio:.2f} (5/10)"


async def fill_ratio_drift(r: Rig) -> tuple[str, str]:
    intent, ref = await r.working()
    rec = r.rec(intent.intent_id)
    r.gateway.faults.fill_order(CLIENT_ID, rec.broker_order_id, Decimal(5))
    await r.until(lambda: rec.entry_filled == 5, what="the 50% fill")
    r.drop.add(OrderFilled)  # the next execution report is lost on the way
    r.gateway.faults.fill_order(CLIENT_ID, rec.broker_order_id, Decimal(1))
    await r.until(lambda: r.venue_orders(ref)[0].filled == 6 and OrderFilled not in r.drop)
    await r.reconcile()
    drifts = {d.drift_type: d for d in r.engine.book.drifts.values()}
    fill = drifts.get(DriftType.FILL_MISMATCH)
    expect(fill is not None, f"no FILL_MISMATCH drift: {list(drifts)}")
    assert fill is not None
    expect(fill.engine_state["ratio"] == "50%" and fill.broker_state["ratio"] == "60%", str(fill))
    expect(rec.entry_filled == 5, "the engine corrected itself without the trader")
    return "engine 50% vs broker 60%: drift raised, nothing corrected", (
        f"drift engine {fill.engine_state['ratio']} / broker {fill.broker_state['ratio']}"
    )


async def wrong_position(r: Rig) -> tuple[str, str]:
    r.gateway.venue.submit(  # typed into TWS by hand: the engine never saw it
        OrderSpec(ACCOUNT, "MSFT", Side.BUY, Decimal(5), OrderType.MARKET, client_id=99)
    )
    before = len(r.venue_orders())
    await r.reconcile()
    drift = next(
        (d for d in r.engine.book.drifts.values() if d.drift_type is DriftType.POSITION_SIZE), None
    )
    expect(drift is not None and drift.subject == "MSFT", "no position drift for MSFT")
    assert drift is not None
    expect(r.engine.book.trading_state is TradingState.REDUCING, "not REDUCING")
    await r.settle(0.3)
    expect(len(r.venue_orders()) == before, "a corrective order was sent")
    pos = r.engine.book.positions.get("MSFT")
    expect(pos is None or pos.quantity == 0, "the engine adopted the broker position by itself")
    return "broker holds 5 MSFT the engine never traded: drift, REDUCING, no auto-correct", (
        f"engine {drift.engine_state['quantity']} / broker {drift.broker_state['quantity']}, "
        "0 corrective orders"
    )


async def same_intent_twice(r: Rig) -> tuple[str, str]:
    intent = await r.propose()
    token = r.engine.pending_token(intent.intent_id) or ""
    results = await asyncio.gather(
        r.engine.approve(intent.intent_id, token), r.engine.approve(intent.intent_id, token)
    )
    try:
        await r.broker.submit(order_request_for(intent))
        raise VectorFailed("the adapter accepted the same orderRef twice")
    except ValueError:
        pass
    ref = order_ref_for(intent.intent_id)
    await r.until(lambda: r.venue_orders(ref), what="the order")
    await r.settle()
    n = len(r.venue_orders(ref))
    expect(sum(x.ok for x in results) == 1 and n == 1, f"{n} orders for one intent")
    return "two approvals + a direct resubmit of one orderRef at once", (
        "1 of 3 attempts reached the venue"
    )


async def forced_invalid_transition(r: Rig) -> tuple[str, str]:
    intent = await r.propose()
    refused = [
        not r.engine.force_transition(intent.intent_id, Trigger.FILL),
        not r.engine.force_transition(intent.intent_id, Trigger.EXIT_FILLED),
    ]
    expect(all(refused), "an invalid transition was applied")
    state = r.rec(intent.intent_id).state
    expect(state is LifecycleState.PROPOSED, f"state moved to {state}")
    n = len(r.beads(intent.intent_id, "INVALID_TRANSITION"))
    expect(n == 2, f"{n} INVALID_TRANSITION beads")
    return "PROPOSED + FILL / EXIT_FILLED refused, state unchanged", f"{n} refusals recorded"


async def kill_flag_active(r: Rig) -> tuple[str, str]:
    stale = r.intent(state_age_min=31)
    denied = await r.engine.propose(stale)
    expect(not denied.accepted and "STATE_CONFLICT" in r.engine.book.kill_flags, "no kill flag")
    fresh = await r.engine.propose(r.intent())
    reasons = {d.reason for d in fresh.denials}
    expect(DenialReason.KILL_FLAG in reasons, f"fresh intent: {fresh.message}")
    await r.settle()
    n = len(r.venue_orders())
    expect(n == 0, f"{n} orders at the venue")
    return "temporary kill flag up: a new entry is denied KILL_FLAG", f"{n} orders at the venue"


async def stale_approval(r: Rig) -> tuple[str, str]:
    intent = await r.propose(regime=Regime.HIGH_VOLATILITY, state_age_min=14)
    r.clock.advance(120)  # the state is 16 minutes old when the trader approves
    await r.fresh_quote()
    result = await r.approve(intent.intent_id)
    expect(result.code == DenialReason.STATE_CONFLICT, f"answered {result.code}: {result.message}")
    flag = r.engine.book.kill_flags.get("STATE_CONFLICT")
    expect(flag is not None and flag.expires_at is not None, "no temporary kill flag")
    assert flag is not None and flag.expires_at is not None
    minutes = (flag.expires_at - r.clock.now()).total_seconds() / 60
    await r.settle()
    n = len(r.venue_orders())
    expect(n == 0, f"{n} orders sent")
    return "approval of 16-minute-old state: STATE_CONFLICT + temporary kill", (
        f"kill flag for {minutes:.0f} min, {n} orders"
    )
