"""Virtual fills on bars: shadow trading in the live runtime and every fill in the backtest.

The fill model a careful trader would accept as honest, not flattering:
* entries are limit orders at the plan's price: filled at the limit when a later bar trades at
  or through it (never better, even after a gap: with minute bars the queue is unknowable),
  never on the bar that decided them;
* a stop is a market order once touched: filled at the stop or the open if the bar gapped
  through it, minus `slippage_ticks`;
* a target is a resting limit: filled at the target when touched (never better);
* stop and target touched in the same bar: the stop is assumed first;
* an exit asked for on a bar's close (thesis, time, volatility, kill) fills at the next bar's
  open, minus slippage; a session-end exit fills at the session's last close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.strategy.bars import BarView


@dataclass(frozen=True, slots=True)
class EntryFilled:
    order_id: str
    price: float
    ts: datetime


@dataclass(frozen=True, slots=True)
class ExitFilled:
    order_id: str
    price: float
    ts: datetime
    reason: str


VenueEvent = EntryFilled | ExitFilled


@dataclass(slots=True)
class _Order:
    side: int
    limit: float
    stop: float
    target: float
    filled: bool = False


class VirtualVenue:
    """Working entries and open bracketed positions, filled against bars."""

    def __init__(self, tick: float, slippage_ticks: int) -> None:
        self.tick = tick
        self.slip = slippage_ticks * tick
        self._orders: dict[str, _Order] = {}
        self._exits: dict[str, str] = {}

    def place_entry(
        self, order_id: str, side: int, limit: float, stop: float, target: float
    ) -> None:
        if order_id in self._orders:
            raise ValueError(f"order {order_id} is already working")
        self._orders[order_id] = _Order(side, limit, stop, target)

    def cancel_entry(self, order_id: str) -> bool:
        """Cancel an unfilled entry; False if it filled already or is unknown."""
        order = self._orders.get(order_id)
        if order is None or order.filled:
            return False
        del self._orders[order_id]
        return True

    def modify(self, order_id: str, stop: float) -> bool:
        order = self._orders.get(order_id)
        if order is None or not order.filled:
            return False
        order.stop = stop
        return True

    def request_exit(self, order_id: str, reason: str) -> None:
        order = self._orders.get(order_id)
        if order is not None and order.filled:
            self._exits.setdefault(order_id, reason)

    def close_all(self, price: float, ts: datetime, reason: str) -> list[VenueEvent]:
        """Close every open position at `price` and drop every working entry."""
        out: list[VenueEvent] = []
        for order_id, order in list(self._orders.items()):
            if order.filled:
                out.append(ExitFilled(order_id, price, ts, self._exits.get(order_id, reason)))
        self._orders.clear()
        self._exits.clear()
        return out

    def working(self) -> int:
        return len(self._orders)

    def on_bar(self, bar: BarView) -> list[VenueEvent]:
        """Everything that filled during `bar` (before the runtime decides on its close)."""
        out: list[VenueEvent] = []
        slip = self.slip
        for order_id, reason in self._exits.items():
            order = self._orders.pop(order_id, None)
            if order is not None:
                out.append(ExitFilled(order_id, bar.open - order.side * slip, bar.ts, reason))
        self._exits.clear()
        done: list[str] = []
        for order_id, o in self._orders.items():
            if not o.filled:
                if (o.side > 0 and bar.low <= o.limit) or (o.side < 0 and bar.high >= o.limit):
                    out.append(EntryFilled(order_id, o.limit, bar.ts))
                else:
                    continue
                o.filled = True
                # On the entry bar only the stop can be known to have traded after the fill.
                if (bar.low <= o.stop) if o.side > 0 else (bar.high >= o.stop):
                    worst = min(bar.open, o.stop) if o.side > 0 else max(bar.open, o.stop)
                    out.append(ExitFilled(order_id, worst - o.side * slip, bar.end, "stop"))
                    done.append(order_id)
                continue
            if o.side > 0:
                if bar.low <= o.stop:
                    price = min(bar.open, o.stop) - slip
                    out.append(ExitFilled(order_id, price, bar.end, "stop"))
                elif bar.high >= o.target:
                    out.append(ExitFilled(order_id, o.target, bar.end, "target"))
                else:
                    continue
            else:
                if bar.high >= o.stop:
                    price = max(bar.open, o.stop) + slip
                    out.append(ExitFilled(order_id, price, bar.end, "stop"))
                elif bar.low <= o.target:
                    out.append(ExitFilled(order_id, o.target, bar.end, "target"))
                else:
                    continue
            done.append(order_id)
        for order_id in done:
            del self._orders[order_id]
        return out
