"""Flatten and rollback: act at the broker first, record as soon as the store allows, retry."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from decimal import Decimal

from contracts.config import Config
from contracts.enums import AlertLevel, OrderLeg, OrderType, Side
from contracts.events import CancelRequested, RollbackCompleted, RollbackStarted
from contracts.intent import Evidence, Instrument, Intent, OrderParams
from engine.book import Book
from engine.clock import Clock
from engine.killswitch import LIVE_AT_BROKER, KillSwitch
from engine.orders import OrderPath, order_request_for
from engine.ports import BrokerUnavailable
from engine.recorder import BackgroundTasks, EventRecorder
from engine.results import CommandResult
from engine.risk import reduces_position
from engine.rollback import rollback_reason, verify_rollback
from engine.session import BrokerSession
from engine.throttle import OutboundThrottle

log = logging.getLogger("deskgate.engine")
AUTO_ROLLBACK_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Waits between attempts of an automatic rollback that failed; one attempt per entry, plus one."""
CANCELS_CONFIRM_WAIT_S = 3.0
"""How long flatten and close-position wait for the broker to confirm the cancels they sent
before sizing the closing order. An exit (a bracket's stop or target) that fills in between
has already closed part of the position: a close sized before the cancels were answered would
sell it a second time and reverse the position."""


class SafetyActions:
    """Flatten, rollback, and the automatic rollback triggers (NAV, pacing, connection)."""

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        kill_switch: KillSwitch,
        orders: OrderPath,
        throttle: OutboundThrottle,
        tasks: BackgroundTasks,
        clock: Clock,
        config: Config,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._kill_switch = kill_switch
        self._orders = orders
        self._throttle = throttle
        self._tasks = tasks
        self._clock = clock
        self._config = config
        self.retry_backoff_s: Sequence[float] = AUTO_ROLLBACK_BACKOFF_S
        self.cancels_confirm_wait_s = CANCELS_CONFIRM_WAIT_S
        self.auto_rollback_timeout_s = 60.0
        """How long one automatic attempt waits for the broker to report flat and no orders."""
        self.last_rollback: RollbackCompleted | None = None
        """The most recent rollback's outcome (for the incident report)."""
        self.automatic: asyncio.Task[None] | None = None
        self._pacing_hits: deque[float] = deque()
        self._connection_failures: deque[float] = deque()

    # --- flatten ---------------------------------------------------------------------------

    async def flatten(self, reason: str, actor: str = "trader") -> CommandResult:
        """Cancel working orders, wait for the broker to answer the cancels, then close every
        position still open with risk-reducing market orders, sized from the position then."""
        positions = {s: p.quantity for s, p in self._book.positions.items() if p.quantity != 0}
        if not positions:
            return CommandResult(False, "no positions to flatten", "FLAT")
        if not self._session.connected:
            return CommandResult(False, "broker disconnected: cannot flatten", "DISCONNECTED")
        await self._throttle.acquire(urgent=True)
        try:
            await self._session.broker.cancel_all()
        except BrokerUnavailable as exc:
            log.error("flatten: global cancel failed: %s", exc)
        self._recorder.record_safety(
            CancelRequested(
                **self._recorder.now_pair(), intent_id=None, order_ref=None, reason="flatten"
            )
        )
        unconfirmed = await self._cancels_answered(set(positions), "flatten")
        still_open = {s: q for s in positions if (q := self._book.quantity_held(s)) != 0}
        instruments = await self._instruments(still_open)
        sent = 0
        for symbol, quantity in still_open.items():
            sent += (await self._close(symbol, quantity, instruments, reason, actor)).ok
        message = f"flatten: {sent} of {len(still_open)} orders sent"
        if closed := len(positions) - len(still_open):
            message += f"; {closed} position(s) closed by their exits during the cancels"
        if unconfirmed:
            message += f"; {unconfirmed}"
        return CommandResult(sent == len(still_open), message)

    async def close_position(
        self, symbol: str, reason: str, actor: str = "trader"
    ) -> CommandResult:
        """Close one position the engine holds: cancel that symbol's live orders at the broker
        (exits that could reopen it), then one reducing MARKET order, through flatten's path."""
        quantity = self._book.quantity_held(symbol)
        if not quantity:
            return CommandResult(False, f"no open position in {symbol}: nothing sent", "FLAT")
        if not self._session.connected:
            return CommandResult(False, "broker disconnected: cannot close", "DISCONNECTED")
        broker = self._session.broker
        try:
            live = [
                o
                for o in await broker.open_orders()
                if o.instrument.symbol == symbol
                and o.status.value in LIVE_AT_BROKER
                and o.order_ref
            ]
        except BrokerUnavailable as exc:
            return CommandResult(False, f"cannot list {symbol}'s orders: {exc}", "BROKER")
        for order in live:
            await self._throttle.acquire(urgent=True)
            try:
                await broker.cancel(order.order_ref)
            except BrokerUnavailable as exc:
                log.error("close %s: cancel of %s failed: %s", symbol, order.order_ref, exc)
            self._recorder.record_safety(
                CancelRequested(
                    **self._recorder.now_pair(),
                    intent_id=self._book.by_ref.get(order.order_ref),
                    order_ref=order.order_ref,
                    reason=f"close {symbol}",
                )
            )
        unconfirmed = await self._cancels_answered({symbol}, f"close {symbol}")
        quantity = self._book.quantity_held(symbol)
        if not quantity:
            return CommandResult(
                True, f"{symbol} closed by its exits during the cancels: nothing sent", "FLAT"
            )
        instruments = await self._instruments({symbol: quantity})
        closed = await self._close(symbol, quantity, instruments, reason, actor)
        if unconfirmed:
            return CommandResult(closed.ok, f"{closed.message}; {unconfirmed}", closed.code)
        return closed

    async def _cancels_answered(self, symbols: set[str], action: str) -> str:
        """Ask the broker until it lists no live order in `symbols`, for at most
        `cancels_confirm_wait_s`: the fills of exits that beat their cancels are then in the
        book. "" when answered; else what is still unknown, raised as a critical alert (the
        close still goes, sized from the position as it is: the trader asked to be out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cancels_confirm_wait_s
        delay = 0.02
        live: list[str] | None = None
        while True:
            try:
                orders = await self._session.broker.open_orders()
            except BrokerUnavailable as exc:
                log.warning("%s: open orders not answered, asking again: %s", action, exc)
            else:
                live = [
                    o.order_ref or str(o.perm_id)
                    for o in orders
                    if o.instrument.symbol in symbols and o.status.value in LIVE_AT_BROKER
                ]
                if not live:
                    return ""
            if loop.time() >= deadline:
                break
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 0.25)
        waited = f"{self.cancels_confirm_wait_s:g} s"
        if live is None:
            problem = f"the broker did not list its orders within {waited} of the cancel"
        else:
            problem = f"{len(live)} order(s) still working {waited} after the cancel: " + (
                ", ".join(live[:5])
            )
        self._recorder.alert(
            AlertLevel.CRITICAL,
            "CANCEL_UNCONFIRMED",
            f"{action}: {problem}; the close was sized from the position now: "
            "check the broker for an exit that fills too",
        )
        return problem

    async def _close(
        self,
        symbol: str,
        quantity: Decimal,
        instruments: dict[str, Instrument],
        reason: str,
        actor: str,
    ) -> CommandResult:
        """One reducing MARKET order for the whole of `quantity` (exempt from the token)."""
        instrument = instruments.get(symbol)
        if instrument is None:
            self._recorder.alert(
                AlertLevel.CRITICAL,
                "FLATTEN_FAILED",
                f"{symbol}: contract unknown to the engine and the broker; close it by hand",
            )
            return CommandResult(False, f"{symbol}: contract unknown: nothing sent", "UNKNOWN")
        stamp = self._clock.now().strftime("%H%M%S%f")
        intent = _flatten_intent(symbol, instrument, quantity, stamp, reason, self._clock)
        assert reduces_position(intent, quantity)
        rec = self._orders.open_exempt(intent, f"flatten:{actor}")
        return await self._orders.send(
            rec, order_request_for(intent, OrderLeg.FLATTEN), token_id=None, exempt="flatten"
        )

    async def _instruments(self, positions: dict[str, Decimal]) -> dict[str, Instrument]:
        """Each position's contract: from the intent that opened it, else the broker's position
        (a position adopted through drift resolution has no intent of its own)."""
        found: dict[str, Instrument] = {}
        for rec in self._book.records.values():
            found.setdefault(rec.intent.order.instrument.symbol, rec.intent.order.instrument)
        missing = set(positions) - set(found)
        if missing:
            try:
                held = await self._session.broker.positions()
            except BrokerUnavailable as exc:
                log.error("flatten: broker positions unavailable: %s", exc)
                held = []
            for pos in held:
                if pos.instrument.symbol in missing:
                    found[pos.instrument.symbol] = pos.instrument
        return {s: found[s] for s in positions if s in found}

    # --- rollback --------------------------------------------------------------------------

    async def rollback(
        self,
        reason: str,
        actor: str = "trader",
        *,
        automatic: bool = False,
        timeout_s: float = 60.0,
    ) -> CommandResult:
        """Kill, cancel everything, flatten, then verify flat / no orders / NAV near the start.

        The kill comes first and is never blocked by the audit store; RollbackStarted and
        RollbackCompleted (with the duration and the numbers) are recorded as soon as it allows.
        """
        reason = reason.strip()
        if not reason:
            return CommandResult(False, "a rollback needs a reason", "REASON_REQUIRED")
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + timeout_s
        await self._kill_switch.kill(f"rollback: {reason}", actor)
        nav = self._session.nav
        self._recorder.record_safety(
            RollbackStarted(
                **self._recorder.now_pair(),
                reason=reason,
                actor=actor,
                automatic=automatic,
                nav_at_session_start=nav.start,
            )
        )
        confirmation = self._kill_switch.confirmation
        if confirmation is not None:
            await asyncio.wait({confirmation}, timeout=max(0.0, deadline - loop.time()))
        if any(p.quantity for p in self._book.positions.values()):
            await self.flatten(f"rollback: {reason}", actor)
        positions: dict[str, Decimal] = {}
        open_orders = -1
        nav_end: Decimal | None = None
        broker = self._session.broker
        while True:
            try:
                held = await broker.positions()
                live = await broker.open_orders()
                account = await broker.account()
            except BrokerUnavailable:
                held, live, account = [], [], None
            else:
                positions = {p.instrument.symbol: p.quantity for p in held if p.quantity}
                open_orders = sum(o.status.value in LIVE_AT_BROKER for o in live)
                nav_end = account.net_liquidation if account else None
                if not positions and open_orders == 0:
                    break
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        check = verify_rollback(
            positions,
            max(open_orders, 0),
            nav.start,
            nav_end,
            Decimal(str(self._config.golive.rollback_nav_tolerance_pct)),
        )
        problems = check.problems if open_orders >= 0 else ("broker unreachable", *check.problems)
        verified = check.verified and open_orders >= 0
        duration = loop.time() - started
        self.last_rollback = RollbackCompleted(
            **self._recorder.now_pair(),
            reason=reason,
            actor=actor,
            verified=verified,
            duration_s=duration,
            flat=check.flat,
            open_orders=max(open_orders, 0),
            positions=positions,
            nav_start=nav.start,
            nav_end=nav_end,
            nav_change_pct=check.nav_change_pct,
            problems=problems,
        )
        self._recorder.record_safety(self.last_rollback)
        level = AlertLevel.INFO if verified else AlertLevel.CRITICAL
        verdict = "verified" if verified else "NOT verified: " + "; ".join(problems)
        self._recorder.alert(level, "ROLLBACK", f"rollback {verdict} in {duration:.1f}s")
        return CommandResult(
            verified, f"rollback {verdict} in {duration:.1f}s", "" if verified else "UNVERIFIED"
        )

    # --- automatic rollback ------------------------------------------------------------------

    def note_pacing_violation(self) -> None:
        self._pacing_hits.append(self._clock.monotonic())
        self.check_triggers()

    def note_connection_failure(self) -> None:
        self._connection_failures.append(self._clock.monotonic())
        self.check_triggers()

    def check_triggers(self) -> None:
        """Start the automatic rollback (once) when NAV, PSR, pacing or connections say so."""
        if self.automatic is not None:
            return
        mono = self._clock.monotonic()
        for hits in (self._pacing_hits, self._connection_failures):
            while hits and mono - hits[0] > 3600:
                hits.popleft()
        reason = rollback_reason(
            self._session.nav,
            len(self._pacing_hits),
            len(self._connection_failures),
            self._config.kill,
        )
        if reason:
            self.automatic = self._tasks.spawn(self._rollback_until_done(reason), "auto-rollback")

    async def _rollback_until_done(self, reason: str) -> None:
        """Run the automatic rollback; a failed attempt alerts and retries with backoff.

        An attempt failed when it raised, or left positions or working orders at the broker
        (or could not reach it). NAV outside tolerance alone is reported, not retried.
        """
        attempts = len(self.retry_backoff_s) + 1
        for attempt in range(1, attempts + 1):
            try:
                await self.rollback(
                    reason, actor="auto", automatic=True, timeout_s=self.auto_rollback_timeout_s
                )
            except Exception as exc:  # a failed attempt must never end the retries
                log.exception("automatic rollback attempt %d failed", attempt)
                problem = f"raised {type(exc).__name__}: {exc}"
            else:
                done = self.last_rollback
                if done is None or (done.flat and done.open_orders == 0 and not _unreached(done)):
                    return
                problem = "; ".join(done.problems)
            if attempt == attempts:
                self._recorder.alert(
                    AlertLevel.CRITICAL,
                    "ROLLBACK_FAILED",
                    f"automatic rollback failed {attempts} times ({problem}): act by hand",
                )
                return
            wait = self.retry_backoff_s[attempt - 1]
            self._alert_retry(attempt, attempts, problem, wait)
            await asyncio.sleep(wait)

    def _alert_retry(self, attempt: int, attempts: int, problem: str, wait: float) -> None:
        try:
            self._recorder.alert(
                AlertLevel.CRITICAL,
                "ROLLBACK_RETRY",
                f"automatic rollback attempt {attempt} of {attempts} failed ({problem}); "
                f"retrying in {wait:g}s",
            )
        except Exception:  # the alert must not stop the retry either
            log.exception("rollback retry alert could not be recorded")


def _unreached(done: RollbackCompleted) -> bool:
    return "broker unreachable" in done.problems


def _flatten_intent(
    symbol: str, instrument: Instrument, quantity: Decimal, stamp: str, reason: str, clock: Clock
) -> Intent:
    return Intent(
        intent_id=f"flat-{symbol.replace(' ', '')}-{stamp}"[:48],
        strategy="flatten",
        order=OrderParams(
            instrument=instrument,
            side=Side.SELL if quantity > 0 else Side.BUY,
            quantity=abs(quantity),
            order_type=OrderType.MARKET,
        ),
        state_hash="flatten",
        state_ts=clock.now(),
        evidence=Evidence(setup_quality=0, htf_alignment=False, ltf_alignment=False, notes=reason),
        reduces_risk=True,
    )
