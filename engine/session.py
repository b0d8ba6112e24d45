"""The broker session as the engine sees it: connection, account, quotes, data farms, latency."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from datetime import datetime

from contracts.broker import AccountSnapshot, Quote
from contracts.enums import AlertLevel
from contracts.intent import Instrument
from engine.ports import BrokerPort, BrokerUnavailable
from engine.recorder import EventRecorder
from engine.rollback import NavTracker

LATENCY_SAMPLES = 2000
LATENCY_STAGES = ("intent_to_submit", "submit_to_ack", "ack_to_fill")


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
        self.nav = NavTracker()
        self.latency: dict[str, deque[float]] = {
            k: deque(maxlen=LATENCY_SAMPLES) for k in LATENCY_STAGES
        }
        self._quote_waiters: dict[str, asyncio.Event] = {}
        self._subscribed: set[str] = set()

    def on_quote(self, quote: Quote) -> None:
        self.quotes[quote.symbol] = quote
        waiter = self._quote_waiters.pop(quote.symbol, None)
        if waiter:
            waiter.set()

    def on_account(self, account: AccountSnapshot) -> None:
        self.account = account
        self.account_id = account.account_id
        self.nav.update(account.net_liquidation)

    def quote(self, symbol: str) -> Quote | None:
        return self.quotes.get(symbol)

    async def watch_quote(self, instrument: Instrument, wait_s: float = 2.0) -> Quote | None:
        """Subscribe to an instrument's quotes (once) and wait briefly for the first one."""
        symbol = instrument.symbol
        if symbol not in self._subscribed and self.connected:
            self._subscribed.add(symbol)
            try:
                await self.broker.subscribe_quotes(instrument)
            except BrokerUnavailable as exc:
                self._subscribed.discard(symbol)
                self._recorder.alert(AlertLevel.WARNING, "NO_MARKET_DATA", f"{symbol}: {exc}")
                return None
        if symbol not in self.quotes and self.connected:
            waiter = self._quote_waiters.setdefault(symbol, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), wait_s)
        return self.quotes.get(symbol)

    def sample(self, stage: str, start: datetime | None, end: datetime | None) -> None:
        """Record one latency sample in milliseconds (skipped when either end is unknown)."""
        if start is None or end is None:
            return
        self.latency[stage].append((end - start).total_seconds() * 1000.0)
