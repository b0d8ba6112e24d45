"""`SimBroker`: the engine's broker port implemented in-process over a `SimVenue`."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from broker.brackets import bracket_legs
from broker.sim.bar_stream import BarStream
from broker.sim.bars import bars_for_request, same_session
from broker.sim.events import (
    Execution,
    OrderEventKind,
    VenueError,
    VenueEvent,
    VenueFillEvent,
    VenueOrderEvent,
    VenueQuoteEvent,
)
from broker.sim.orders import OrderSpec, SimOrder, VenueOrderStatus
from broker.sim.symbols import listing_facts, synthetic_spec
from broker.sim.venue import SimVenue
from contracts.broker import (
    AccountSnapshot,
    AccountUpdated,
    BarUpdated,
    BrokerConnected,
    BrokerDisconnected,
    BrokerEvent,
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    CancelRejected,
    CommissionReported,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    PositionUpdated,
    Quote,
    QuoteUpdated,
)
from contracts.enums import BrokerOrderStatus
from contracts.intent import Instrument
from contracts.market import Bar, BarRequest, ContractFacts, MarginPreview
from engine.ports import BrokerUnavailable, EventSink

_STATUS: dict[VenueOrderStatus, BrokerOrderStatus] = {
    VenueOrderStatus.PENDING_SUBMIT: BrokerOrderStatus.PENDING_SUBMIT,
    VenueOrderStatus.WORKING: BrokerOrderStatus.WORKING,
    VenueOrderStatus.FILLED: BrokerOrderStatus.FILLED,
    VenueOrderStatus.CANCELLED: BrokerOrderStatus.CANCELLED,
    VenueOrderStatus.REJECTED: BrokerOrderStatus.REJECTED,
}


class SimBroker:
    """In-process adapter: engine requests become venue calls, venue events become BrokerEvents."""

    name = "sim"

    def __init__(self, venue: SimVenue, account: str = "DU1234567", *, client_id: int = 1) -> None:
        self.venue = venue
        self.account_id = account
        self.client_id = client_id
        self._sink: EventSink | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._connected = False
        self._next_order_id = 1
        self._quotes: set[str] = set()
        self._instruments: dict[str, Instrument] = {}
        self._bars = BarStream(venue)
        self._bar_symbols: dict[str, Callable[[], None]] = {}
        self._last_bar: dict[str, Bar] = {}
        venue.add_account(account)

    # --- port: lifecycle --------------------------------------------------------------------

    def set_event_sink(self, sink: EventSink) -> None:
        self._sink = sink

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        if self._connected:
            return
        self._unsubscribe = self.venue.subscribe(self._on_venue_event)
        self._connected = True
        now = self.venue.scheduler.now()
        self._deliver(BrokerConnected(ts=now, account_id=self.account_id, is_paper=True))
        self._deliver(AccountUpdated(ts=now, account=self._snapshot()))
        for position in self._positions():
            self._deliver(PositionUpdated(ts=now, position=position))

    async def disconnect(self) -> None:
        if not self._connected:
            return
        self._connected = False
        remove = self._unsubscribe
        self._unsubscribe = None
        if remove is not None:
            remove()
        for stop in self._bar_symbols.values():
            stop()
        self._bar_symbols.clear()
        self._deliver(
            BrokerDisconnected(ts=self.venue.scheduler.now(), reason="disconnect requested")
        )

    # --- port: orders -----------------------------------------------------------------------

    async def submit(self, order: OrderRequest) -> None:
        """Place the entry and, with bracket prices, its SL (STP) and TP (LMT) children."""
        self._require_connected()
        symbol = order.instrument.symbol
        self._ensure_symbol(order.instrument)
        perm_ids: dict[str, int] = {}
        for leg in bracket_legs(order):
            placed = self.venue.submit(
                OrderSpec(
                    account=self.account_id,
                    symbol=symbol,
                    side=leg.side,
                    quantity=leg.quantity,
                    order_type=leg.order_type,
                    limit_price=leg.limit_price,
                    stop_price=leg.stop_price,
                    tif=leg.tif,
                    order_ref=leg.order_ref,
                    parent_perm_id=perm_ids[leg.parent_ref] if leg.parent_ref else None,
                    oca_group=leg.oca_group,
                    client_id=self.client_id,
                    order_id=self._order_id(),
                    con_id=order.instrument.con_id or 0,
                )
            )
            perm_ids[leg.order_ref] = placed.perm_id

    async def cancel(self, order_ref: str) -> None:
        """Cancel the live order with this orderRef; a miss is reported, never dropped."""
        self._require_connected()
        mine = [o for o in self.venue.orders(self.account_id) if o.order_ref == order_ref]
        live = [o for o in mine if o.is_open]
        now = self.venue.scheduler.now()
        if not live:
            code = 10148 if mine else 10147
            state = mine[-1].status.value.title() if mine else "unknown"
            self._deliver(
                CancelRejected(
                    ts=now,
                    order_ref=order_ref,
                    code=code,
                    reason=f"order {order_ref} cannot be cancelled, state: {state}",
                )
            )
            return
        for order in live:
            try:
                self.venue.cancel(order.perm_id)
            except VenueError as exc:
                self._deliver(
                    CancelRejected(ts=now, order_ref=order_ref, code=exc.code, reason=exc.message)
                )

    async def modify(
        self,
        order_ref: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Change the live order with this orderRef; a refusal arrives as ModifyRejected."""
        self._require_connected()
        live = [
            o
            for o in self.venue.orders(self.account_id, open_only=True)
            if o.order_ref == order_ref and o.client_id == self.client_id
        ]
        now = self.venue.scheduler.now()
        if not live:
            reason = f"order {order_ref} is not working"
            self._deliver(ModifyRejected(ts=now, order_ref=order_ref, code=104, reason=reason))
            return
        try:
            self.venue.modify(
                live[0].perm_id,
                quantity=quantity,
                limit_price=limit_price,
                stop_price=stop_price,
            )
        except VenueError as exc:
            self._deliver(
                ModifyRejected(ts=now, order_ref=order_ref, code=exc.code, reason=exc.message)
            )

    async def what_if(self, order: OrderRequest) -> MarginPreview:
        """The order's margin and commission, as IB's whatIf answers; nothing is placed."""
        self._ensure_symbol(order.instrument)
        preview = self.venue.margin_preview(
            self.account_id, order.instrument.symbol, order.side, order.quantity, order.limit_price
        )
        return MarginPreview(
            init_margin_change=preview.init_change,
            maint_margin_change=preview.maint_change,
            equity_with_loan_after=preview.account.net_liquidation - preview.commission,
            commission=preview.commission,
            currency=preview.account.currency,
        )

    async def cancel_all(self) -> None:
        self._require_connected()
        self.venue.cancel_all(self.account_id)

    # --- port: reads ------------------------------------------------------------------------

    async def open_orders(self) -> list[BrokerOrder]:
        return [self._broker_order(o) for o in self.venue.orders(self.account_id, open_only=True)]

    async def completed_orders(self) -> list[BrokerOrder]:
        return [self._broker_order(o) for o in self.venue.orders(self.account_id) if not o.is_open]

    async def executions(self) -> list[BrokerExecution]:
        return [self._broker_execution(e) for e in self.venue.executions(self.account_id)]

    async def positions(self) -> list[BrokerPosition]:
        return self._positions()

    async def account(self) -> AccountSnapshot:
        return self._snapshot()

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]:
        """Every listed contract matching the instrument (by conId, or symbol + sec type
        + exchange + expiry; a future without expiry lists all expiries); [] if unknown."""
        found = self.venue.find_contracts(
            symbol=instrument.symbol,
            sec_type=instrument.sec_type,
            exchange=instrument.exchange,
            expiry=instrument.expiry,
            con_id=instrument.con_id or 0,
            currency=instrument.currency,
        )
        return [listing_facts(listing) for listing in found]

    async def subscribe_quotes(self, instrument: Instrument) -> None:
        self._ensure_symbol(instrument)
        self._quotes.add(instrument.symbol)
        self._deliver(
            QuoteUpdated(ts=self.venue.scheduler.now(), quote=self._quote(instrument.symbol))
        )

    async def historical_bars(self, instrument: Instrument, request: BarRequest) -> list[Bar]:
        """The generator's bars for the request (the venue's seed), complete bars only."""
        return bars_for_request(
            instrument.symbol,
            duration=request.duration,
            bar_size=request.bar_size,
            use_rth=request.use_rth,
            end=request.end or self.venue.scheduler.now(),
            seed=self.venue.seed,
        )

    async def subscribe_bars(self, instrument: Instrument) -> None:
        """Stream live 5-second bars as BarUpdated (gap_before when bars went missing)."""
        symbol = instrument.symbol
        if symbol not in self._bar_symbols:
            self._bar_symbols[symbol] = self._bars.subscribe(symbol, self._on_bar)

    def _on_bar(self, bar: Bar) -> None:
        previous = self._last_bar.get(bar.symbol)
        self._last_bar[bar.symbol] = bar
        gap = (
            previous is not None
            and (bar.ts - previous.ts).total_seconds() > previous.seconds
            and same_session(bar.symbol, previous.ts, bar.ts)  # a session break is no gap
        )
        late = previous is not None and bar.ts <= previous.ts
        self._deliver(BarUpdated(ts=self.venue.scheduler.now(), bar=bar, gap_before=gap, late=late))

    # --- venue events -----------------------------------------------------------------------

    def _on_venue_event(self, event: VenueEvent) -> None:
        if isinstance(event, VenueQuoteEvent):
            if event.quote.symbol in self._quotes:
                self._deliver(
                    QuoteUpdated(ts=event.quote.ts, quote=self._quote(event.quote.symbol))
                )
            return
        order = event.order
        if order.account != self.account_id or order.client_id != self.client_id:
            return
        if isinstance(event, VenueFillEvent):
            self._on_fill(event)
        else:
            self._on_order_event(event)

    def _on_order_event(self, event: VenueOrderEvent) -> None:
        order, ts = event.order, event.ts
        if event.kind is OrderEventKind.ACCEPTED:
            self._deliver(
                OrderAccepted(
                    ts=ts,
                    order_ref=order.order_ref,
                    broker_order_id=order.order_id,
                    perm_id=order.perm_id,
                )
            )
        elif event.kind is OrderEventKind.CANCELLED:
            self._deliver(
                OrderCancelled(
                    ts=ts,
                    order_ref=order.order_ref,
                    perm_id=order.perm_id,
                    filled=order.filled,
                    reason=event.reason,
                )
            )
        elif event.kind is OrderEventKind.REJECTED:
            self._deliver(
                OrderRejected(
                    ts=ts, order_ref=order.order_ref, code=event.code, reason=event.reason
                )
            )

    def _on_fill(self, event: VenueFillEvent) -> None:
        ex, order, ts = event.execution, event.order, event.ts
        self._deliver(
            OrderFilled(
                ts=ts,
                order_ref=ex.order_ref,
                perm_id=ex.perm_id,
                exec_id=ex.exec_id,
                side=ex.side,
                quantity=ex.quantity,
                price=ex.price,
                cum_quantity=ex.cum_quantity,
                remaining=order.remaining,
            )
        )
        self._deliver(
            CommissionReported(
                ts=ts, exec_id=ex.exec_id, commission=ex.commission, realized_pnl=ex.realized_pnl
            )
        )
        for position in self._positions():
            if position.instrument.symbol == ex.symbol:
                self._deliver(PositionUpdated(ts=ts, position=position))
        self._deliver(AccountUpdated(ts=ts, account=self._snapshot()))

    # --- helpers ----------------------------------------------------------------------------

    def _deliver(self, event: BrokerEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def _require_connected(self) -> None:
        if not self._connected:
            raise BrokerUnavailable("sim broker is not connected")

    def _order_id(self) -> int:
        order_id = self._next_order_id
        self._next_order_id += 1
        return order_id

    def _ensure_symbol(self, instrument: Instrument) -> None:
        self._instruments.setdefault(instrument.symbol, instrument)
        if self.venue.spec(instrument.symbol) is None:
            self.venue.add_symbol(synthetic_spec(instrument.symbol, instrument.tick_size))

    def _instrument(self, symbol: str) -> Instrument:
        known = self._instruments.get(symbol)
        if known is not None:
            return known
        spec = self.venue.spec(symbol)
        if spec is None:
            return Instrument(symbol=symbol)
        if not spec.is_future:
            return Instrument(symbol=symbol, tick_size=spec.tick, con_id=spec.con_id or None)
        front = self.venue.find_contracts(symbol=symbol, sec_type="FUT")[0]
        return Instrument(
            symbol=symbol,
            sec_type="FUT",
            exchange=spec.exchange,
            tick_size=spec.tick,
            multiplier=spec.multiplier,
            con_id=front.con_id,
            expiry=front.last_trade_date,
            trading_class=front.trading_class,
        )

    def _quote(self, symbol: str) -> Quote:
        q = self.venue.quote(symbol)
        return Quote(symbol=symbol, bid=q.bid, ask=q.ask, last=q.last, ts=q.ts)

    def _positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(
                account=p.account,
                instrument=self._instrument(p.symbol),
                quantity=p.quantity,
                avg_cost=p.avg_cost,
            )
            for p in self.venue.positions(self.account_id)
        ]

    def _snapshot(self) -> AccountSnapshot:
        s = self.venue.account(self.account_id)
        return AccountSnapshot(
            account_id=self.account_id,
            is_paper=True,
            currency=s.currency,
            net_liquidation=s.net_liquidation,
            available_funds=s.available_funds,
            buying_power=s.buying_power,
            cash=s.cash,
            init_margin=s.init_margin,
            maint_margin=s.maint_margin,
            cushion=s.cushion,
            realized_pnl=s.realized_pnl,
            unrealized_pnl=s.unrealized_pnl,
            ts=self.venue.scheduler.now(),
        )

    def _broker_order(self, o: SimOrder) -> BrokerOrder:
        return BrokerOrder(
            order_ref=o.order_ref,
            broker_order_id=o.order_id,
            perm_id=o.perm_id,
            instrument=self._instrument(o.symbol),
            side=o.side,
            quantity=o.quantity,
            filled=o.filled,
            remaining=o.remaining,
            order_type=o.order_type,
            limit_price=o.limit_price,
            stop_price=o.stop_price,
            avg_fill_price=o.avg_fill_price,
            status=_STATUS[o.status],
        )

    def _broker_execution(self, e: Execution) -> BrokerExecution:
        return BrokerExecution(
            exec_id=e.exec_id,
            order_ref=e.order_ref,
            perm_id=e.perm_id,
            symbol=e.symbol,
            side=e.side,
            quantity=e.quantity,
            price=e.price,
            cum_quantity=e.cum_quantity,
            time=e.time,
            commission=e.commission,
        )
