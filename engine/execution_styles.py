"""Execution styles (seed 003): working one approved order patiently, inside what was approved.

Both patient styles work ONE broker order (the intent's ENTRY leg) and change it with broker-
confirmed modifies, so the kill switch, cancel, reconciliation and crash recovery see exactly one
order, as for an immediate one:

* limit_patience: rest at the approved limit; every `reprice_every_s` move it toward the touch by
  at most `reprice_ticks` ticks; after `max_reprices` cancel the rest, or cross at the touch.
* twap: the order's quantity grows by one slice every `window_s / slices` seconds (the first slice
  is what is sent), each step repriced to the touch; so no more than the schedule is ever working.

No price ever passes `worst_price`, and the quantity never passes the approved quantity. The
runner stops at once when the engine is HALTED (the kill switch cancels the order itself).

Both styles keep one timeline from the moment the parent was sent, so a style resumed after a
restart (`ResumePoint`) keeps its original window: reprice moments and slices missed while the
engine was down are not replayed one by one (twap catches up to the slice due now in one step),
and a window that ended while it was down ends the style at once by its rule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from contracts.enums import Side
from contracts.intent import ExecutionStyle, OrderParams

log = logging.getLogger("deskgate.styles")


class StylePort(Protocol):
    """What a style needs from the engine's order path (which audits and paces every step)."""

    async def modify_entry(
        self, intent_id: str, *, limit_price: Decimal, quantity: Decimal | None = None
    ) -> bool:
        """Change the working ENTRY order; True once the broker confirmed it."""
        ...

    async def cancel_entry(self, intent_id: str, reason: str) -> None: ...

    def entry_filled(self, intent_id: str) -> Decimal: ...

    def entry_working(self, intent_id: str) -> bool: ...

    def touch(self, symbol: str, side: Side) -> Decimal | None:
        """The price a marketable order of `side` would meet now (ask for a buy); None if no
        fresh two-sided quote."""
        ...

    def halted(self) -> bool: ...


@dataclass
class StyleProgress:
    """What the Orders panel shows for a working style."""

    intent_id: str
    kind: str
    steps: int = 0
    """Modifies the broker confirmed (reprices, slices)."""
    working_quantity: Decimal = Decimal(0)
    limit_price: Decimal | None = None
    done: bool = False
    outcome: str = ""
    history: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ResumePoint:
    """Where a style stood when the engine stopped, rebuilt from its audit beads."""

    elapsed_s: float
    """Seconds since the parent was sent (the style's timeline origin)."""
    limit_price: Decimal | None
    """The last limit the broker confirmed (None: the approved one)."""
    working_quantity: Decimal
    """What is, or may be, working at the broker (confirmed or in flight at the crash)."""
    steps: int = 0


def first_child_quantity(params: OrderParams, size_increment: Decimal) -> Decimal:
    """What goes out first: everything, except for twap the first slice (whole increments)."""
    style = params.execution
    if style.kind != "twap":
        return params.quantity
    return slice_schedule(params.quantity, style.slices, size_increment)[0]


def slice_schedule(total: Decimal, slices: int, increment: Decimal) -> list[Decimal]:
    """Cumulative working quantity after each slice: equal slices on the size increment, the
    remainder in the last; never above `total`."""
    each = (total / slices / increment).to_integral_value(rounding=ROUND_DOWN) * increment
    if each <= 0:
        each = increment
    schedule = []
    for k in range(1, slices + 1):
        schedule.append(min(total, each * k))
    schedule[-1] = total
    return [q for i, q in enumerate(schedule) if i == 0 or q > schedule[i - 1]]


def bounded(side: Side, price: Decimal, worst: Decimal) -> Decimal:
    """`price`, never past `worst` (above it for a buy, below it for a sell)."""
    return min(price, worst) if side is Side.BUY else max(price, worst)


def step_toward(side: Side, current: Decimal, touch: Decimal, max_move: Decimal) -> Decimal:
    """Move `current` toward `touch` by at most `max_move` (never away from it)."""
    if side is Side.BUY:
        return min(touch, current + max_move) if touch > current else current
    return max(touch, current - max_move) if touch < current else current


class StyleRunner:
    """Works one approved entry in its style until filled, timed out, cancelled or HALTED."""

    def __init__(
        self,
        intent_id: str,
        params: OrderParams,
        *,
        tick: Decimal,
        size_increment: Decimal,
        port: StylePort,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        resume: ResumePoint | None = None,
    ) -> None:
        style: ExecutionStyle = params.execution
        if style.kind == "immediate" or style.worst_price is None:
            raise ValueError("a style runner needs a patient style with a worst_price")
        self.intent_id = intent_id
        self.params = params
        self.style = style
        self.worst = style.worst_price
        self.tick = tick
        self.increment = size_increment
        self.port = port
        self._sleep = sleep
        self.resume = resume
        self.progress = StyleProgress(
            intent_id,
            style.kind,
            working_quantity=first_child_quantity(params, size_increment),
            limit_price=params.limit_price,
        )
        if resume is not None:
            self.progress.steps = resume.steps
            self.progress.working_quantity = resume.working_quantity
            self.progress.limit_price = resume.limit_price or params.limit_price
            self.progress.history.append(f"resumed after a restart at {resume.elapsed_s:.0f}s")

    def _finished(self, outcome: str) -> StyleProgress:
        self.progress.done, self.progress.outcome = True, outcome
        self.progress.history.append(outcome)
        return self.progress

    def _stopped(self) -> str | None:
        if self.port.halted():
            return "halted: kill switch"
        if self.port.entry_filled(self.intent_id) >= self.params.quantity:
            return "filled"
        if not self.port.entry_working(self.intent_id):
            return "order no longer working"
        return None

    async def run(self) -> StyleProgress:
        if self.style.kind == "limit_patience":
            return await self._patience()
        return await self._twap()

    async def _modify(self, limit: Decimal, quantity: Decimal | None = None) -> bool:
        ok = await self.port.modify_entry(self.intent_id, limit_price=limit, quantity=quantity)
        if ok:
            self.progress.steps += 1
            self.progress.limit_price = limit
            if quantity is not None:
                self.progress.working_quantity = quantity
            self.progress.history.append(f"{quantity or ''}@{limit}".lstrip("@"))
        else:
            self.progress.history.append(f"modify to {limit} refused: order left as it was")
        return ok

    def _ended_while_down(self, window_s: float) -> bool:
        return self.resume is not None and self.resume.elapsed_s >= window_s

    async def _patience(self) -> StyleProgress:
        side = self.params.side
        limit = self.progress.limit_price
        if limit is None:
            return self._finished("limit_patience needs a limit order")
        every = self.style.reprice_every_s
        max_move = self.tick * self.style.reprice_ticks
        window = (self.style.max_reprices + 1) * every
        down = self._ended_while_down(window)
        clock = self.resume.elapsed_s if self.resume else 0.0
        for k in range(int(clock // every) + 1, self.style.max_reprices + 1):
            await self._sleep(k * every - clock)
            clock = k * every
            if (why := self._stopped()) is not None:
                return self._finished(why)
            touch = self.port.touch(self.params.instrument.symbol, side)
            if touch is None:
                self.progress.history.append("no fresh quote: price kept")
                continue
            target = bounded(side, step_toward(side, limit, touch, max_move), self.worst)
            if target != limit and await self._modify(target):
                limit = target
        await self._sleep(max(0.0, window - clock))
        if (why := self._stopped()) is not None:
            return self._finished(why)
        when = "window ended while the engine was down: " if down else ""
        touch = self.port.touch(self.params.instrument.symbol, side)
        if self.style.on_timeout == "cross" and touch is not None:
            crossed = bounded(side, touch, self.worst)
            if crossed != limit:
                await self._modify(crossed)
            return self._finished(f"{when}crossed at {crossed}")
        await self.port.cancel_entry(self.intent_id, "limit_patience timed out")
        return self._finished(f"{when or 'timed out: '}rest cancelled")

    async def _twap(self) -> StyleProgress:
        schedule = slice_schedule(self.params.quantity, self.style.slices, self.increment)
        interval = self.style.window_s / len(schedule)
        window = interval * len(schedule)
        limit = self.progress.limit_price or self.worst
        down = self._ended_while_down(window)
        clock = self.resume.elapsed_s if self.resume else 0.0
        due = schedule[min(int(clock // interval), len(schedule) - 1)]
        if not down and due > self.progress.working_quantity:  # catch up once after a restart
            if (why := self._stopped()) is not None:
                return self._finished(why)
            limit = await self._slice(limit, due)
        for j in range(int(clock // interval) + 1, len(schedule)):
            await self._sleep(j * interval - clock)
            clock = j * interval
            if (why := self._stopped()) is not None:
                return self._finished(why)
            if schedule[j] > self.progress.working_quantity:  # never a slice already out
                limit = await self._slice(limit, schedule[j])
        await self._sleep(max(0.0, window - clock))
        if (why := self._stopped()) is not None:
            return self._finished(why)
        await self.port.cancel_entry(self.intent_id, "twap window ended")
        when = "while the engine was down" if down else ""
        return self._finished(f"window ended{' ' + when if when else ''}: rest cancelled")

    async def _slice(self, limit: Decimal, cumulative: Decimal) -> Decimal:
        """Grow the working order to `cumulative`, repriced to the touch; the limit in force."""
        touch = self.port.touch(self.params.instrument.symbol, self.params.side)
        target = bounded(self.params.side, touch, self.worst) if touch is not None else limit
        return target if await self._modify(target, cumulative) else limit
