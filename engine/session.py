"""The broker session as the engine sees it: connection, account, quotes, data farms, latency."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from contracts.broker import AccountSnapshot, BrokerEvent, ModifyRejected, Quote
from contracts.enums import AlertLevel
from contracts.intent import Instrument
from engine.ports import BrokerPort, BrokerUnavailable
from engine.recorder import EventRecorder
from engine.results import CommandResult
from engine.risk import two_sided
from engine.rollback import NavTracker

LATENCY_SAMPLES = 2000
LATENCY_STAGES = (
    "intent_to_submit",
    "submit_to_ack",
    "ack_to_fill",
    "intent_to_approve",
    "approve_to_submit",
)
"""intent_to_approve is the trader's time; approve_to_submit and submit_to_ack the engine's
(and the broker's); the order matches `engine.view.LatencyView`'s fields."""


@runtime_checkable
class SupportsReconnectNow(Protocol):
    """A broker port that reconnects by itself with backoff and can be asked to try now."""

    def reconnect_now(self) -> str:
        """Start the next attempt now (never a second one alongside); say what was done."""
        ...


class BrokerSession:
    """Owns what the broker last told the engine about the connection, account and market."""

    def __init__(self, broker: BrokerPort, recorder: EventRecorder, *, is_paper: bool) -> None:
        self.broker = broker
        self._recorder = recorder
        self.connected = False
        self.down_reason = ""
        """The last disconnect's reason while down; cleared on (re)connect."""
        self.account_id = ""
        self.is_paper = is_paper
        self.account: AccountSnapshot | None = None
        self.farms: dict[str, bool] = {}
        self.quotes: dict[str, Quote] = {}
        self._quote_mono: dict[str, float] = {}
        """symbol -> monotonic time the latest quote arrived (a wall-clock step cannot age it)."""
        self.nav = NavTracker()
        self.latency: dict[str, deque[float]] = {
            k: deque(maxlen=LATENCY_SAMPLES) for k in LATENCY_STAGES
        }
        self.cancel_waits: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        """Seconds each answered cancel spent in PENDING_CANCEL, newest last."""
        self._quote_waiters: dict[str, asyncio.Event] = {}
        self._subscribed: set[str] = set()
        self._modify_refusals: dict[str, str | None] = {}
        """order_ref -> the broker's refusal of the modify in flight (None while none)."""
        self._bars_subscribed: set[str] = set()
        self.instruments: dict[str, Instrument] = {}
        """Every instrument the engine has watched, by symbol (its venue's session is shown)."""
        self.order_entry_refused: str | None = None
        """Why the broker refuses every new order of this session (read-only API), if it does."""
        self.resynced = asyncio.Event()
        """Clear from a connection loss or restore until broker truth has been reconciled again;
        no new order leaves while it is clear (the start-up reconciliation runs before any)."""
        self.resynced.set()
        self._link_generation = 0

    def link_interrupted(self) -> None:
        """The connection dropped or was restored: broker truth must be reconciled again."""
        self._link_generation += 1
        self.resynced.clear()

    @property
    def link_generation(self) -> int:
        return self._link_generation

    def mark_resynced(self, generation: int) -> None:
        """A reconciliation that began in `generation` finished: new orders may leave again."""
        if generation == self._link_generation:
            self.resynced.set()

    async def modify(self, order_ref: str, **changes: Decimal | None) -> str | None:
        """Send one broker modify of a working order and wait for the broker's answer: None
        when confirmed, else the refusal (or why it was not sent). The order is unchanged then."""
        modify = getattr(self.broker, "modify", None)
        if modify is None:
            return f"not sent: broker {self.broker.name} cannot modify orders"
        self._modify_refusals[order_ref] = None
        try:
            await modify(order_ref, **changes)
        except (BrokerUnavailable, ValueError) as exc:
            self._modify_refusals[order_ref] = str(exc)
        return self._modify_refusals.pop(order_ref, None)

    def observe(self, event: BrokerEvent) -> None:
        """Note the broker refusing a modify in flight (the adapter's call returns either way)."""
        if isinstance(event, ModifyRejected) and event.order_ref in self._modify_refusals:
            self._modify_refusals[event.order_ref] = f"{event.code} {event.reason}"

    def reconnect_now(self) -> CommandResult:
        """The trader's reconnect-now: the adapter's own reconnect loop tries at once (one
        attempt at a time, its per-minute budget kept); nothing while connected."""
        if self.connected:
            return CommandResult(False, "already connected", "CONNECTED")
        if not isinstance(self.broker, SupportsReconnectNow):
            return CommandResult(
                False, f"{self.broker.name} cannot reconnect on request", "UNSUPPORTED"
            )
        return CommandResult(True, self.broker.reconnect_now())

    def on_quote(self, quote: Quote) -> None:
        self.quotes[quote.symbol] = quote
        self._quote_mono[quote.symbol] = self._recorder.clock.monotonic()
        if two_sided(quote):  # risk prices only against both sides
            waiter = self._quote_waiters.pop(quote.symbol, None)
            if waiter:
                waiter.set()

    def on_account(self, account: AccountSnapshot) -> None:
        self.account = account
        self.account_id = account.account_id
        self.nav.update(account.net_liquidation)

    def quote(self, symbol: str) -> Quote | None:
        return self.quotes.get(symbol)

    def quote_arrived(self, symbol: str) -> float | None:
        """When the latest quote for `symbol` arrived, on the monotonic clock (None: none yet)."""
        return self._quote_mono.get(symbol)

    async def watch_quote(self, instrument: Instrument, wait_s: float = 2.0) -> Quote | None:
        """Subscribe to an instrument's quotes (once) and wait briefly for a two-sided one."""
        symbol = instrument.symbol
        self.instruments.setdefault(symbol, instrument)
        if symbol not in self._subscribed and self.connected:
            self._subscribed.add(symbol)
            try:
                await self.broker.subscribe_quotes(instrument)
            except BrokerUnavailable as exc:
                self._subscribed.discard(symbol)
                self._recorder.alert(AlertLevel.WARNING, "NO_MARKET_DATA", f"{symbol}: {exc}")
                return None
        if not two_sided(self.quotes.get(symbol)) and self.connected:
            waiter = self._quote_waiters.setdefault(symbol, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), wait_s)
        return self.quotes.get(symbol)

    async def watch_bars(self, instrument: Instrument) -> bool:
        """Subscribe to an instrument's live 5-second bars (once); False if the broker has none."""
        subscribe = getattr(self.broker, "subscribe_bars", None)
        if subscribe is None:
            return False
        if instrument.symbol not in self._bars_subscribed:
            try:
                await subscribe(instrument)
            except BrokerUnavailable as exc:
                self._recorder.alert(AlertLevel.WARNING, "NO_BARS", f"{instrument.symbol}: {exc}")
                return False
            self._bars_subscribed.add(instrument.symbol)
        return True

    def sample(self, stage: str, start: datetime | None, end: datetime | None) -> None:
        """Record one latency sample in milliseconds (skipped when either end is unknown)."""
        if start is None or end is None:
            return
        self.latency[stage].append((end - start).total_seconds() * 1000.0)
