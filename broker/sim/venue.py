"""The pure simulated venue: books, matching, brackets/OCA, chaos outcomes and accounts."""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from broker.sim.chaos import PROFILES, ChaosProfile, Outcome, ScriptedOutcome
from broker.sim.events import (
    Execution,
    OrderEventKind,
    VenueError,
    VenueEvent,
    VenueFillEvent,
    VenueListener,
    VenueOrderEvent,
    VenueQuoteEvent,
)
from broker.sim.ledger import (
    INIT_MARGIN_RATE,
    MAINT_MARGIN_RATE,
    AccountState,
    Ledger,
    SimPosition,
    commission_for,
)
from broker.sim.orders import OrderSpec, SimOrder, VenueOrderStatus
from broker.sim.quotes import RandomWalk, SimQuote
from broker.sim.scheduler import ManualScheduler, Scheduler
from broker.sim.symbols import DEFAULT_SYMBOLS, Listing, SymbolSpec, find_listings
from contracts.enums import ChaosMode, OrderType, Side, TimeInForce

log = logging.getLogger(__name__)

PERM_ID_BASE = 700_000_000
DEFAULT_CASH = Decimal("100000")
CHAOS_REJECT_REASON = "Order rejected - reason:Simulated venue rejection (chaos)"


@dataclass(frozen=True)
class MarginChange:
    """An order's what-if: margin it adds, its commission, and the account before it."""

    init_change: Decimal
    maint_change: Decimal
    commission: Decimal
    account: AccountState


class SimVenue:
    """A seeded venue shared by every adapter; all randomness comes from one `Random(seed)`."""

    def __init__(
        self,
        seed: int = 7,
        chaos: ChaosMode = ChaosMode.INSTANT,
        *,
        scheduler: Scheduler | None = None,
        symbols: Iterable[SymbolSpec] = DEFAULT_SYMBOLS,
        starting_cash: Decimal = DEFAULT_CASH,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.scheduler: Scheduler = scheduler or ManualScheduler()
        self.starting_cash = starting_cash
        self._chaos = chaos
        self._profile: ChaosProfile = PROFILES[chaos]
        self._walks: dict[str, RandomWalk] = {}
        for spec in symbols:
            self.add_symbol(spec)
        self._orders: dict[int, SimOrder] = {}
        self._by_symbol: dict[str, dict[int, SimOrder]] = {}
        self._children_of: dict[int, list[SimOrder]] = {}
        self._oca_groups: dict[str, list[SimOrder]] = {}
        self._ledgers: dict[str, Ledger] = {}
        self._executions: list[Execution] = []
        self._listeners: list[VenueListener] = []
        self._script: deque[ScriptedOutcome] = deque()
        self._next_perm = PERM_ID_BASE
        self._exec_seq = 0

    # --- configuration ------------------------------------------------------------------

    @property
    def chaos(self) -> ChaosMode:
        return self._chaos

    def set_chaos(self, mode: ChaosMode) -> None:
        """Switch chaos mode at runtime; applies to orders submitted from now on."""
        self._chaos = mode
        self._profile = PROFILES[mode]

    def script(self, *outcomes: ScriptedOutcome) -> None:
        """Force the outcome of the next orders (in order), instead of rolling the dice."""
        self._script.extend(outcomes)

    def subscribe(self, listener: VenueListener) -> Callable[[], None]:
        """Register a listener; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def add_symbol(self, spec: SymbolSpec) -> None:
        self._walks[spec.symbol] = RandomWalk(spec, self.scheduler.now())

    def add_account(self, account: str, cash: Decimal | None = None) -> None:
        if account not in self._ledgers:
            self._ledgers[account] = Ledger(
                account, cash if cash is not None else self.starting_cash
            )

    # --- reads ----------------------------------------------------------------------------

    def symbols(self) -> list[SymbolSpec]:
        return [w.spec for w in self._walks.values()]

    def spec(self, symbol: str) -> SymbolSpec | None:
        walk = self._walks.get(symbol)
        return walk.spec if walk else None

    def find_contracts(
        self,
        *,
        symbol: str = "",
        sec_type: str = "",
        exchange: str = "",
        expiry: str = "",
        con_id: int = 0,
        currency: str = "",
    ) -> list[Listing]:
        """Contract-details lookup in the venue's symbol table, as of the venue's today."""
        return find_listings(
            self.symbols(),
            self.scheduler.now().date(),
            symbol=symbol,
            sec_type=sec_type,
            exchange=exchange,
            expiry=expiry,
            con_id=con_id,
            currency=currency,
        )

    def margin_preview(
        self, account: str, symbol: str, side: Side, quantity: Decimal, price: Decimal | None
    ) -> MarginChange:
        """What an order would add to initial/maintenance margin, and its commission."""
        spec = self._walk(symbol).spec
        ledger = self._ledger(account)
        pos = ledger.positions.get(symbol)
        current = pos.quantity if pos else Decimal(0)
        added = abs(current + quantity * side.sign) - abs(current)
        quote = self.quote(symbol)
        fill_price = price or (quote.ask if side is Side.BUY else quote.bid)
        if spec.is_future:
            init, maint = added * spec.init_margin, added * spec.maint_margin
        else:
            value = added * fill_price
            init, maint = value * INIT_MARGIN_RATE, value * MAINT_MARGIN_RATE
        cent = Decimal("0.01")
        return MarginChange(
            init.quantize(cent),
            maint.quantize(cent),
            commission_for(quantity, fill_price, spec),
            self.account(account),
        )

    def quote(self, symbol: str) -> SimQuote:
        return self._walk(symbol).quote

    def order(self, perm_id: int) -> SimOrder | None:
        order = self._orders.get(perm_id)
        return order.snapshot() if order else None

    def orders(self, account: str | None = None, *, open_only: bool = False) -> list[SimOrder]:
        return [
            o.snapshot()
            for o in self._orders.values()
            if (account is None or o.account == account) and (o.is_open or not open_only)
        ]

    def executions(self, account: str | None = None) -> list[Execution]:
        return [e for e in self._executions if account is None or e.account == account]

    def accounts(self) -> list[str]:
        return list(self._ledgers)

    def positions(self, account: str) -> list[SimPosition]:
        ledger = self._ledger(account)
        return [
            SimPosition(p.account, p.symbol, p.quantity, p.avg_cost, p.realized_pnl, p.con_id)
            for p in ledger.positions.values()
        ]

    def account(self, account: str) -> AccountState:
        return self._ledger(account).state(self.marks())

    def marks(self) -> dict[str, Decimal]:
        """Mark prices (last trade) per symbol."""
        return {s: w.quote.last for s, w in self._walks.items()}

    # --- quotes ---------------------------------------------------------------------------

    def step(self, symbol: str | None = None) -> list[SimQuote]:
        """Advance the random walk one step (one symbol, or all), then match resting orders."""
        names = [symbol] if symbol is not None else list(self._walks)
        quotes = []
        for name in names:
            walk = self._walk(name)
            quote = walk.step(self.rng, self.scheduler.now())
            quotes.append(quote)
            self._emit(VenueQuoteEvent(quote))
            self._match_symbol(name)
        return quotes

    def set_price(self, symbol: str, bid: Decimal, ask: Decimal | None = None) -> SimQuote:
        """Put a symbol's book at a price (tests/scenarios), then match resting orders."""
        quote = self._walk(symbol).set_price(bid, ask, self.scheduler.now())
        self._emit(VenueQuoteEvent(quote))
        self._match_symbol(symbol)
        return quote

    # --- orders ---------------------------------------------------------------------------

    def submit(self, spec: OrderSpec) -> SimOrder:
        """Take one order. Acks may be delayed by latency/chaos; returns a snapshot."""
        self.add_account(spec.account)
        self._next_perm += 1
        order = SimOrder.from_spec(spec, self._next_perm, self.scheduler.now())
        self._orders[order.perm_id] = order
        if order.parent_perm_id is not None:
            self._children_of.setdefault(order.parent_perm_id, []).append(order)
        if order.oca_group:
            self._oca_groups.setdefault(order.oca_group, []).append(order)
        problem = self._validate(spec)
        if problem is not None:
            self._reject(order, *problem)
            return order.snapshot()
        scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            order.outcome = scripted.outcome
            delay = scripted.delay
            if scripted.reason:
                order.reason = scripted.reason
        else:
            order.outcome = self._profile.draw(self.rng)
            delay = self._profile.draw_latency(self.rng)
            if order.outcome is Outcome.DELAY:
                delay += self._profile.draw_delay(self.rng)
        self._by_symbol.setdefault(order.symbol, {})[order.perm_id] = order
        if delay > 0:
            self.scheduler.call_later(delay, lambda: self._ack(order))
        else:
            self._ack(order)
        return order.snapshot()

    def modify(
        self,
        perm_id: int,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        order_type: OrderType | None = None,
    ) -> SimOrder:
        """Change a live order's quantity/prices; raises VenueError (104/105) otherwise."""
        order = self._orders.get(perm_id)
        if order is None:
            raise VenueError(105, "Order being modified does not match original order.")
        if not order.is_open:
            raise VenueError(104, f"Cannot modify a {order.status.value.lower()} order.")
        if quantity is not None and (quantity <= 0 or quantity < order.filled):
            raise VenueError(105, "Order quantity cannot be less than the filled quantity.")
        if quantity is not None:
            order.quantity = quantity
        if order_type is not None:
            order.order_type = order_type
        if limit_price is not None:
            order.limit_price = limit_price
        if stop_price is not None:
            order.stop_price = stop_price
        self._emit_order(OrderEventKind.MODIFIED, order)
        if order.status is VenueOrderStatus.WORKING and order.remaining == 0:
            self._set_filled(order)
        else:
            self._try_match(order)
        return order.snapshot()

    def cancel(self, perm_id: int, reason: str = "") -> SimOrder:
        """Cancel a live order; raises VenueError 10147 (unknown) or 10148 (not cancellable)."""
        order = self._orders.get(perm_id)
        if order is None:
            raise VenueError(10147, f"OrderId {perm_id} that needs to be cancelled is not found.")
        if not order.is_open:
            raise VenueError(
                10148,
                f"OrderId {order.order_id or perm_id} that needs to be cancelled cannot be "
                f"cancelled, state: {order.status.value.title()}.",
            )
        self._cancel(order, reason)
        return order.snapshot()

    def cancel_all(self, account: str | None = None) -> list[SimOrder]:
        """Global cancel: every open order (of one account, or all)."""
        cancelled = []
        for order in sorted(self._orders.values(), key=lambda o: o.perm_id):
            if order.is_open and (account is None or order.account == account):
                self._cancel(order, "global cancel")
                cancelled.append(order.snapshot())
        return cancelled

    def force_fill(
        self, perm_id: int, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Execution:
        """Fill a live order now regardless of the book (fault injection, scenarios)."""
        order = self._orders.get(perm_id)
        if order is None or not order.is_open:
            raise VenueError(10148, f"order {perm_id} is not live")
        if order.status is VenueOrderStatus.PENDING_SUBMIT:
            order.status = VenueOrderStatus.WORKING
            order.held = False
            self._emit_order(OrderEventKind.ACCEPTED, order)
        quote = self.quote(order.symbol)
        fill_price = price or (quote.ask if order.side is Side.BUY else quote.bid)
        return self._fill(order, quantity or order.remaining, fill_price)

    # --- internals ------------------------------------------------------------------------

    def _walk(self, symbol: str) -> RandomWalk:
        walk = self._walks.get(symbol)
        if walk is None:
            raise VenueError(200, "No security definition has been found for the request")
        return walk

    def _ledger(self, account: str) -> Ledger:
        self.add_account(account)
        return self._ledgers[account]

    def _validate(self, spec: OrderSpec) -> tuple[int, str] | None:
        if spec.symbol not in self._walks:
            return 200, "No security definition has been found for the request"
        if spec.quantity <= 0:
            return 434, "The order size cannot be zero"
        increment = self._walks[spec.symbol].spec.size_increment
        if spec.quantity % increment != 0:
            return 201, f"Order rejected - reason:Quantity must be a multiple of {increment}"
        needs_limit = spec.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = spec.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit and (spec.limit_price is None or spec.limit_price <= 0):
            return 201, "Order rejected - reason:Limit price is missing"
        if needs_stop and (spec.stop_price is None or spec.stop_price <= 0):
            return 201, "Order rejected - reason:Stop price is missing"
        tick = self._walks[spec.symbol].spec.tick
        for price in (spec.limit_price, spec.stop_price):
            if price is not None and price % tick != 0:
                return 110, "The price does not conform to the minimum price variation."
        if spec.parent_perm_id is not None:
            parent = self._orders.get(spec.parent_perm_id)
            if parent is None or parent.status in (
                VenueOrderStatus.CANCELLED,
                VenueOrderStatus.REJECTED,
            ):
                return 201, "Order rejected - reason:Parent order is not active"
        return None

    def _margin_problem(self, order: SimOrder) -> str | None:
        ledger = self._ledger(order.account)
        pos = ledger.positions.get(order.symbol)
        current = pos.quantity if pos else Decimal(0)
        after = current + order.quantity * order.side.sign
        if abs(after) <= abs(current):
            return None
        preview = self.margin_preview(
            order.account, order.symbol, order.side, order.quantity, order.limit_price
        )
        state = preview.account
        required = state.init_margin + preview.init_change
        if required <= state.net_liquidation:
            return None
        return (
            "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE "
            f"DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [{state.net_liquidation:.2f} USD] "
            f"MUST EXCEED THE INITIAL MARGIN [{required:.2f} USD]"
        )

    def _ack(self, order: SimOrder) -> None:
        if order.status is not VenueOrderStatus.PENDING_SUBMIT:
            return
        if order.outcome is Outcome.REJECT:
            self._reject(order, 201, order.reason or CHAOS_REJECT_REASON)
            return
        margin = self._margin_problem(order)
        if margin is not None:
            self._reject(order, 201, margin)
            return
        parent = self._orders.get(order.parent_perm_id) if order.parent_perm_id else None
        if parent is not None and parent.status in (
            VenueOrderStatus.CANCELLED,
            VenueOrderStatus.REJECTED,
        ):
            self._reject(order, 201, "Order rejected - reason:Parent order is not active")
            return
        order.status = VenueOrderStatus.WORKING
        order.held = parent is not None and parent.status is not VenueOrderStatus.FILLED
        self._emit_order(OrderEventKind.ACCEPTED, order)
        self._try_match(order)
        self._expire_ioc(order)

    def _expire_ioc(self, order: SimOrder) -> None:
        if order.tif is TimeInForce.IOC and order.is_open and not order.held:
            self._cancel(order, "IOC remainder")

    def _reject(self, order: SimOrder, code: int, reason: str) -> None:
        order.status = VenueOrderStatus.REJECTED
        order.reason = reason
        self._unindex(order)
        self._emit_order(OrderEventKind.REJECTED, order, code, reason)

    def _cancel(self, order: SimOrder, reason: str) -> None:
        order.status = VenueOrderStatus.CANCELLED
        order.reason = reason
        self._unindex(order)
        self._emit_order(OrderEventKind.CANCELLED, order, 202, reason)
        children = self._children(order)
        if not children:
            return
        if order.filled > 0:
            # protect what did fill: exits shrink to the filled quantity and go live
            for child in children:
                if child.is_open:
                    child.quantity = order.filled
                    self._emit_order(OrderEventKind.MODIFIED, child)
            self._activate_children(order)
        else:
            for child in children:
                if child.is_open:
                    self._cancel(child, "parent cancelled")

    def _unindex(self, order: SimOrder) -> None:
        book = self._by_symbol.get(order.symbol)
        if book is not None:
            book.pop(order.perm_id, None)

    def _children(self, order: SimOrder) -> list[SimOrder]:
        return list(self._children_of.get(order.perm_id, ()))

    def _oca_siblings(self, order: SimOrder) -> list[SimOrder]:
        """Open orders one-cancels-all with this one: same parent, or same OCA group."""
        candidates: dict[int, SimOrder] = {}
        if order.parent_perm_id is not None:
            for other in self._children_of.get(order.parent_perm_id, ()):
                candidates[other.perm_id] = other
        if order.oca_group:
            for other in self._oca_groups.get(order.oca_group, ()):
                candidates[other.perm_id] = other
        candidates.pop(order.perm_id, None)
        return [o for o in candidates.values() if o.is_open]

    def _match_symbol(self, symbol: str) -> None:
        book = self._by_symbol.get(symbol)
        if not book:
            return
        for order in list(book.values()):
            self._try_match(order)

    def _fill_price(self, order: SimOrder, quote: SimQuote) -> Decimal | None:
        """The price this order would execute at now, or None if it is not marketable."""
        buy = order.side is Side.BUY
        kind = order.order_type
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and not order.triggered:
            stop = order.stop_price
            assert stop is not None
            touched = quote.last >= stop if buy else quote.last <= stop
            if not touched:
                return None
            order.triggered = True
        if kind in (OrderType.MARKET, OrderType.STOP):
            return quote.ask if buy else quote.bid
        limit = order.limit_price
        assert limit is not None
        if buy:
            return quote.ask if quote.ask <= limit else None
        return quote.bid if quote.bid >= limit else None

    def _try_match(self, order: SimOrder) -> None:
        if order.status is not VenueOrderStatus.WORKING or order.held:
            return
        price = self._fill_price(order, self.quote(order.symbol))
        if price is None:
            return
        quantity = order.remaining
        if order.outcome is Outcome.PARTIAL and order.filled == 0:
            quantity = self._partial_quantity(order.remaining)
        if quantity > 0:
            self._fill(order, quantity, price)

    def _partial_quantity(self, remaining: Decimal) -> Decimal:
        if remaining <= 1:
            return remaining
        fraction = Decimal(str(round(self.rng.uniform(0.2, 0.8), 4)))
        part = (remaining * fraction).quantize(Decimal(1), rounding=ROUND_DOWN)
        return min(max(part, Decimal(1)), remaining - 1)

    def _fill(self, order: SimOrder, quantity: Decimal, price: Decimal) -> Execution:
        quantity = min(quantity, order.remaining)
        ledger = self._ledger(order.account)
        spec = self._walk(order.symbol).spec
        commission = commission_for(quantity, price, spec)
        realized = ledger.apply_fill(
            order.symbol, order.side, quantity, price, commission, spec, order.con_id
        )
        previous = order.filled
        order.filled += quantity
        order.avg_fill_price = (
            (order.avg_fill_price or Decimal(0)) * previous + price * quantity
        ) / order.filled
        order.last_fill_price = price
        self._exec_seq += 1
        now = self.scheduler.now()
        execution = Execution(
            exec_id=f"{self.seed & 0xFFFFFFFF:08x}.{self._exec_seq:08x}.01.01",
            perm_id=order.perm_id,
            order_id=order.order_id,
            client_id=order.client_id,
            order_ref=order.order_ref,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            cum_quantity=order.filled,
            avg_price=order.avg_fill_price,
            commission=commission,
            realized_pnl=realized,
            time=now,
            con_id=order.con_id,
        )
        self._executions.append(execution)
        if order.remaining == 0:
            order.status = VenueOrderStatus.FILLED
            self._unindex(order)
        self._emit(VenueFillEvent(order.snapshot(), execution, now))
        self._after_fill(order, quantity)
        return execution

    def _set_filled(self, order: SimOrder) -> None:
        order.status = VenueOrderStatus.FILLED
        self._unindex(order)
        self._after_fill(order, Decimal(0))

    def _after_fill(self, order: SimOrder, quantity: Decimal) -> None:
        siblings = self._oca_siblings(order)
        if order.status is VenueOrderStatus.FILLED:
            for sibling in siblings:
                if sibling.is_open:
                    self._cancel(sibling, "OCA group filled")
            self._activate_children(order)
        elif quantity > 0:
            for sibling in siblings:
                if not sibling.is_open:
                    continue
                sibling.quantity = max(sibling.filled, sibling.quantity - quantity)
                if sibling.remaining == 0:
                    self._cancel(sibling, "OCA group reduced")
                else:
                    self._emit_order(OrderEventKind.MODIFIED, sibling)

    def _activate_children(self, parent: SimOrder) -> None:
        for child in self._children(parent):
            if child.status is VenueOrderStatus.WORKING and child.held:
                child.held = False
                self._emit_order(OrderEventKind.ACTIVATED, child)
                self._try_match(child)
                self._expire_ioc(child)

    def _emit_order(
        self, kind: OrderEventKind, order: SimOrder, code: int = 0, reason: str = ""
    ) -> None:
        self._emit(VenueOrderEvent(kind, order.snapshot(), self.scheduler.now(), code, reason))

    def _emit(self, event: VenueEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("venue listener failed on %s", type(event).__name__)
