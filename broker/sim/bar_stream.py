"""Live 5-second bars on the venue's clock, with the venue's book pinned to each bar's close."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from broker.sim.bars import BASE_SECONDS, floor_to_bar, live_bar
from broker.sim.scheduler import Cancellable
from broker.sim.venue import SimVenue
from contracts.market import Bar

BarListener = Callable[[Bar], None]


def _ignore(bar: Bar) -> None:
    return None


class BarStream:
    """Publishes the generator's 5-second bar of every subscribed symbol when it completes.

    Each bar also moves the venue's book to the bar's close, so quotes, fills and bars agree.
    Outside a symbol's session nothing is published (as at TWS: no trades, no bars).
    """

    def __init__(self, venue: SimVenue, seed: int | None = None) -> None:
        self.venue = venue
        self.seed = venue.seed if seed is None else seed
        self._listeners: dict[str, list[BarListener]] = {}
        self._timer: Cancellable | None = None
        self._due = floor_to_bar(venue.scheduler.now())

    def subscribe(self, symbol: str, listener: BarListener) -> Callable[[], None]:
        """Start receiving `symbol`'s bars; returns the function that stops them."""
        self._listeners.setdefault(symbol, []).append(listener)
        self._arm()

        def remove() -> None:
            listeners = self._listeners.get(symbol, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self._listeners.pop(symbol, None)

        return remove

    def drive(self, symbols: list[str]) -> None:
        """Keep these symbols' books on the generated path even while nobody subscribes."""
        for symbol in symbols:
            self.subscribe(symbol, _ignore)

    @property
    def symbols(self) -> list[str]:
        return sorted(self._listeners)

    def close(self) -> None:
        self._listeners.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        if self._timer is not None or not self._listeners:
            return
        now = self.venue.scheduler.now()
        self._due = floor_to_bar(now) + timedelta(seconds=BASE_SECONDS)
        delay = (self._due - now).total_seconds()
        self._timer = self.venue.scheduler.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        start = self._due - timedelta(seconds=BASE_SECONDS)
        for symbol, listeners in list(self._listeners.items()):
            bar = live_bar(symbol, start, seed=self.seed)
            if bar is None:
                continue
            spec = self.venue.spec(symbol)
            if spec is not None:
                self.venue.set_price(symbol, bar.close, bar.close + spec.tick)
            for listener in list(listeners):
                listener(bar)
        self._arm_after(self._due)

    def _arm_after(self, previous: datetime) -> None:
        """The next bar is due 5 s after the last one: none twice, none skipped."""
        if not self._listeners:
            return
        now = self.venue.scheduler.now()
        self._due = previous + timedelta(seconds=BASE_SECONDS)  # a late loop catches up in order
        delay = max(0.0, (self._due - now).total_seconds())
        self._timer = self.venue.scheduler.call_later(delay, self._tick)
