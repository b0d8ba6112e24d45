"""Seeded, tick-aware random-walk quotes (bid/ask/last and sizes) for one symbol."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from broker.sim.symbols import SymbolSpec

_SPREADS = (1, 1, 1, 2, 2, 3)


@dataclass(frozen=True)
class SimQuote:
    """Top of book for one symbol at one step."""

    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    bid_size: int
    ask_size: int
    last_size: int
    volume: int
    ts: datetime

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


class RandomWalk:
    """Integer-tick random walk; prices are `ticks * tick` so they always sit on the grid."""

    def __init__(self, spec: SymbolSpec, ts: datetime) -> None:
        self.spec = spec
        self._bid_ticks = max(10, int(spec.start_price / spec.tick))
        self._spread = 1
        self._volume = 0
        tick = spec.tick
        bid = self._bid_ticks * tick
        self.quote = SimQuote(spec.symbol, bid, bid + tick, bid + tick, 100, 100, 0, 0, ts)

    def step(self, rng: random.Random, ts: datetime) -> SimQuote:
        """Advance one step: move the bid, pick a spread, print a trade at bid or ask."""
        move = round(rng.gauss(0.0, self.spec.volatility_ticks))
        self._bid_ticks = max(10, self._bid_ticks + move)
        self._spread = _SPREADS[rng.randrange(len(_SPREADS))]
        tick = self.spec.tick
        bid = self._bid_ticks * tick
        ask = (self._bid_ticks + self._spread) * tick
        last = ask if rng.random() < 0.5 else bid
        last_size = rng.randint(1, 10) * 100
        self._volume += last_size
        self.quote = SimQuote(
            self.spec.symbol,
            bid,
            ask,
            last,
            rng.randint(1, 20) * 100,
            rng.randint(1, 20) * 100,
            last_size,
            self._volume,
            ts,
        )
        return self.quote

    def set_price(self, bid: Decimal, ask: Decimal | None, ts: datetime) -> SimQuote:
        """Put the book at a given price (tests, scripted scenarios)."""
        tick = self.spec.tick
        self._bid_ticks = int(bid / tick)
        ask_value = ask if ask is not None else bid + tick
        self._spread = max(1, int((ask_value - bid) / tick))
        bid_q = self._bid_ticks * tick
        ask_q = (self._bid_ticks + self._spread) * tick
        q = self.quote
        self.quote = SimQuote(
            q.symbol, bid_q, ask_q, bid_q, q.bid_size, q.ask_size, 0, q.volume, ts
        )
        return self.quote
