"""One API client connection: handshake, request dispatch, and the venue events it is owed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from broker.gateway import messages as msg
from broker.gateway.account_desk import AccountDesk
from broker.gateway.codec import ProtocolError, decode_fields, encode_message, read_frame
from broker.gateway.faults import CANCEL_REFUSALS, FARMS_OK
from broker.gateway.ids import Code, In
from broker.gateway.market import NO_SECURITY, MarketDesk, resolve
from broker.gateway.pacing import ArrivalClock, Pacer, PacingVerdict
from broker.gateway.requests import (
    ContractRef,
    PlaceOrder,
    parse_exec_filter,
    parse_place_order,
    parse_version_range,
)
from broker.gateway.versions import Ver, negotiate
from broker.gateway.wire import (
    ORDER_TYPES,
    tws_status,
    wire_contract,
    wire_execution,
    wire_order,
)
from broker.sim.events import OrderEventKind, VenueError, VenueFillEvent, VenueOrderEvent
from broker.sim.orders import OrderSpec, SimOrder
from broker.sim.quotes import SimQuote
from broker.sim.symbols import Listing
from contracts.enums import OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from broker.gateway.server import GatewayServer

log = logging.getLogger(__name__)

CLIENT_ID_IN_USE = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
VALIDATION = "Error validating request.-'bN' : cause - "
READ_ONLY = (
    "Error validating request:-'bY' : cause - The API interface is currently in Read-Only mode."
)
"""TWS's own text (seen in captures of TWS in read-only mode, error 321)."""
NO_REQ_ID = 2147483647
READ_ONLY_REFUSED = frozenset(
    {
        In.PLACE_ORDER,
        In.CANCEL_ORDER,
        In.REQ_GLOBAL_CANCEL,
        In.REQ_OPEN_ORDERS,
        In.REQ_ALL_OPEN_ORDERS,
        In.REQ_AUTO_OPEN_ORDERS,
    }
)
TIFS = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC}


class ClientSession:
    """Speaks TWS to one socket; the venue and the order registry belong to the server."""

    def __init__(
        self, server: GatewayServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.venue = server.venue
        self.reader = reader
        self.writer = writer
        self.client_id: int | None = None
        self.ready = False
        self.closed = False
        self.pacer = Pacer(server.pacing)
        self.arrivals = ArrivalClock(writer.transport, asyncio.get_running_loop().time)
        self._arrived = 0.0
        """When the request being served reached the gateway (what the pacer counts)."""
        self.version = server.server_version
        """The server version this client was answered with (its layouts)."""
        self.market = MarketDesk(self)
        self.account = AccountDesk(self)
        self._staged: list[PlaceOrder] = []
        self._handlers: dict[int, Callable[[list[str]], None]] = {
            In.PLACE_ORDER: self._place_order,
            In.CANCEL_ORDER: self._cancel_order,
            In.REQ_GLOBAL_CANCEL: self._global_cancel,
            In.REQ_OPEN_ORDERS: self._open_orders,
            In.REQ_ALL_OPEN_ORDERS: self._all_open_orders,
            In.REQ_COMPLETED_ORDERS: self._completed_orders,
            In.REQ_POSITIONS: self.account.req_positions,
            In.CANCEL_POSITIONS: self.account.cancel_positions,
            In.REQ_ACCOUNT_UPDATES: self.account.req_account_updates,
            In.REQ_ACCOUNT_UPDATES_MULTI: self.account.req_account_updates_multi,
            In.CANCEL_ACCOUNT_UPDATES_MULTI: self.account.cancel_account_updates_multi,
            In.REQ_ACCOUNT_SUMMARY: self.account.req_account_summary,
            In.CANCEL_ACCOUNT_SUMMARY: self._ignore,
            In.REQ_EXECUTIONS: self._req_executions,
            In.REQ_CURRENT_TIME: self._req_current_time,
            In.REQ_IDS: self._req_ids,
            In.REQ_MANAGED_ACCTS: self._req_managed_accounts,
            **self.market.handlers(),
            In.REQ_MARKET_DATA_TYPE: self._ignore,
            In.REQ_AUTO_OPEN_ORDERS: self._ignore,
        }

    # --- transport --------------------------------------------------------------------------

    def send(self, fields: msg.Fields) -> None:
        if self.closed or self.writer.is_closing():
            return
        self.writer.write(encode_message(fields))

    def send_error(self, req_id: int, code: int, message: str) -> None:
        """An error/notice (id 4) in this client's layout."""
        self.send(msg.error(req_id, code, message, self.version))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.ready = False
            self.market.drop_subscriptions()
            self.writer.close()

    def abort(self) -> None:
        """Drop the socket without a goodbye (fault injection)."""
        self.closed = True
        self.ready = False
        self.market.drop_subscriptions()
        self.writer.transport.abort()

    async def run(self) -> None:
        """Serve this connection until the client leaves or the session is closed.

        Nothing escapes: a peer's garbage ends its own session with a log line, never an
        unretrieved task exception.
        """
        limits = self.server.limits
        try:
            async with asyncio.timeout(limits.handshake_timeout) as deadline:
                await self._handshake()
                while not self.ready and not self.closed:
                    self._serve(decode_fields(await self._read_frame()))
                deadline.reschedule(None)
            while not self.closed:
                first = await self.reader.readexactly(1)  # idle between frames is allowed
                async with asyncio.timeout(limits.frame_timeout):
                    payload = await self._read_frame(first)
                self._serve(decode_fields(payload))
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            log.debug("session %s ended: %r", self.client_id, exc)  # the client went away
        except TimeoutError:
            log.warning("session %s closed: read timeout (idle or half-sent frame)", self.client_id)
        except ProtocolError as exc:
            log.warning("session %s closed: %r", self.client_id, exc)
        except Exception:
            log.exception("session %s closed: unexpected error", self.client_id)
        finally:
            self.close()
            self.server.detach(self)
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _read_frame(self, first: bytes = b"") -> bytes:
        payload = await read_frame(self.reader, max_frame=self.server.limits.max_frame, first=first)
        self._arrived = self.arrivals.consumed(4 + len(payload))
        return payload

    def _serve(self, fields: list[str]) -> None:
        """Pace and dispatch one request."""
        if not fields:
            return
        if self.ready:
            verdict = self.pacer.admit(self._arrived)
            if verdict is not PacingVerdict.OK:
                self._pacing(verdict)
                return
        self._dispatch(fields)

    async def _handshake(self) -> None:
        prefix = await self.reader.readexactly(4)
        self.arrivals.consumed(len(prefix))
        if prefix != b"API\0":
            raise ProtocolError(f"expected API prefix, got {prefix!r}")
        announced = decode_fields(await self._read_frame())
        if not announced:
            raise ProtocolError("empty version announcement")
        low, high = parse_version_range(announced[0])
        self.version = negotiate(low, high, self.server.server_version)
        self.send(msg.handshake(self.version, self.venue.scheduler.now()))

    def _pacing(self, verdict: PacingVerdict) -> None:
        self.server.pacing_refused += 1
        if verdict is PacingVerdict.DROP:
            return
        limit = self.server.pacing.max_per_second
        text = (
            f"Max rate of messages per second has been exceeded:max={limit} "
            f"rec={self.pacer.received_in_window} ({self.pacer.violations})"
        )
        self.send_error(-1, Code.MAX_RATE, text)
        if verdict is PacingVerdict.DISCONNECT:
            log.warning("client %s disconnected: repeated pacing violations", self.client_id)
            self.close()

    def _dispatch(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except ValueError:
            raise ProtocolError(f"bad message id {fields[0]!r}") from None
        if msg_id == In.START_API:
            self._start_api(fields)
            return
        if not self.ready:
            return
        if self.server.read_only and msg_id in READ_ONLY_REFUSED:
            self._refuse_read_only(msg_id, fields)
            return
        handler = self._handlers.get(msg_id)
        if handler is None:
            log.info("gateway ignores message id %s", msg_id)
            return
        try:
            handler(fields)
        except (ProtocolError, IndexError, ValueError, ArithmeticError) as exc:
            req_id = self._order_id_of(fields) if msg_id == In.PLACE_ORDER else -1
            self.send_error(req_id, Code.VALIDATION, f"{VALIDATION}{exc}")
        except Exception as exc:
            # A bug of ours must not cost the client its session (TWS keeps the connection).
            log.exception("gateway failed on message %s from client %s", msg_id, self.client_id)
            req_id = self._order_id_of(fields) if msg_id == In.PLACE_ORDER else -1
            self.send_error(req_id, Code.VALIDATION, f"{VALIDATION}internal error: {exc}")

    def _order_id_of(self, fields: list[str]) -> int:
        """A placeOrder's orderId (after the version field clients below v145 send), or -1."""
        index = 1 if self.version >= Ver.ORDER_CONTAINER else 2
        text = fields[index] if len(fields) > index else ""
        return int(text) if text.lstrip("-").isdigit() else -1

    def _refuse_read_only(self, msg_id: int, fields: list[str]) -> None:
        """TWS with "Read-Only API" ticked: order entry and open-order binding are refused."""
        req_id = NO_REQ_ID
        if msg_id == In.PLACE_ORDER:
            req_id = self._order_id_of(fields)
        elif msg_id == In.CANCEL_ORDER and fields[2:3] and fields[2].lstrip("-").isdigit():
            req_id = int(fields[2])
        self.send_error(req_id, Code.VALIDATION, READ_ONLY)
        if msg_id in (In.REQ_OPEN_ORDERS, In.REQ_ALL_OPEN_ORDERS):
            self.send(msg.open_order_end())

    # --- connection -------------------------------------------------------------------------

    def _start_api(self, fields: list[str]) -> None:
        if self.ready:
            return  # a second startApi changes nothing
        try:
            client_id = int(fields[2])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad startApi {fields[:3]!r}") from None
        if self.server.client_in_use(client_id, self):
            self.send_error(-1, Code.CLIENT_ID_IN_USE, CLIENT_ID_IN_USE)
            self.close()
            return
        self.client_id = client_id
        self.server.attach(self)
        self.ready = True
        self.send(msg.managed_accounts(self.server.account))
        self.send(msg.next_valid_id(self.server.next_order_id(client_id)))
        for code, text in FARMS_OK:
            self.send_error(-1, code, text)

    def _ignore(self, fields: list[str]) -> None:
        return None

    def _req_current_time(self, fields: list[str]) -> None:
        self.send(msg.current_time(int(self.venue.scheduler.now().timestamp())))

    def _req_ids(self, fields: list[str]) -> None:
        self.send(msg.next_valid_id(self.server.next_order_id(self._cid)))

    def _req_managed_accounts(self, fields: list[str]) -> None:
        self.send(msg.managed_accounts(self.server.account))

    @property
    def _cid(self) -> int:
        return self.client_id if self.client_id is not None else -1

    # --- orders -----------------------------------------------------------------------------

    def _place_order(self, fields: list[str]) -> None:
        req = parse_place_order(fields, self.version)
        if req.what_if:
            self._what_if(req)
            return
        key = (self._cid, req.order_id)
        perm_id = self.server.order_keys.get(key)
        if perm_id is not None:
            order = self.venue.order(perm_id)
            if order is not None and order.is_open:
                self._modify(req, order)
            else:
                self.send_error(req.order_id, Code.DUPLICATE_ORDER_ID, "Duplicate order id")
            return
        problem = self._validate(req)
        if problem is not None:
            self.send_error(req.order_id, *problem)
            return
        self.server.note_order_id(self._cid, req.order_id)
        self._staged = [s for s in self._staged if s.order_id != req.order_id]
        self._staged.append(req)
        if req.transmit:
            group, self._staged = self._staged, []
            for staged in group:
                self._submit(staged)

    def _validate(self, req: PlaceOrder) -> tuple[int, str] | None:
        c = req.contract
        if not c.exchange:
            return Code.VALIDATION, f"{VALIDATION}Missing order exchange."
        if req.action not in ("BUY", "SELL"):
            return Code.VALIDATION, f"{VALIDATION}Invalid side {req.action!r}."
        if req.order_type not in ORDER_TYPES:
            return Code.VALIDATION, f"{VALIDATION}Unsupported order type {req.order_type!r}."
        if req.tif not in TIFS:
            return Code.VALIDATION, f"{VALIDATION}Unsupported time in force {req.tif!r}."
        if req.account and req.account != self.server.account:
            return Code.VALIDATION, f"{VALIDATION}Unknown account {req.account!r}."
        if self._listing(c) is None:
            return Code.NO_SECURITY, NO_SECURITY
        staged_parent = any(s.order_id == req.parent_id for s in self._staged)
        known_parent = staged_parent or (self._cid, req.parent_id) in self.server.order_keys
        if req.parent_id and not known_parent:
            return Code.VALIDATION, f"{VALIDATION}Parent order {req.parent_id} not found."
        return None

    def _order_spec(self, req: PlaceOrder, parent_perm_id: int | None) -> OrderSpec:
        order_type = ORDER_TYPES[req.order_type]
        takes_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        takes_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        listing = self._listing(req.contract)
        assert listing is not None
        return OrderSpec(
            account=self.server.account,
            symbol=listing.spec.symbol,
            side=Side(req.action),
            quantity=req.quantity,
            order_type=order_type,
            limit_price=req.limit_price if takes_limit else None,
            stop_price=req.aux_price if takes_stop else None,
            tif=TIFS[req.tif],
            order_ref=req.order_ref,
            parent_perm_id=parent_perm_id,
            oca_group=req.oca_group,
            client_id=self._cid,
            order_id=req.order_id,
            con_id=listing.con_id,
        )

    def _submit(self, req: PlaceOrder) -> None:
        parent_perm = (
            self.server.order_keys.get((self._cid, req.parent_id)) if req.parent_id else None
        )
        order = self.venue.submit(self._order_spec(req, parent_perm))
        self.server.order_keys[(self._cid, req.order_id)] = order.perm_id

    def _modify(self, req: PlaceOrder, order: SimOrder) -> None:
        failure = self.server.faults.take_modify_failure()
        if failure is not None:
            self.send_error(req.order_id, *failure)
            return
        listing = self._listing(req.contract)
        if listing is None or listing.spec.symbol != order.symbol or req.action != order.side.value:
            self.send_error(
                req.order_id,
                Code.MODIFY_MISMATCH,
                "Order being modified does not match original order.",
            )
            return
        order_type = ORDER_TYPES.get(req.order_type, order.order_type)
        try:
            self.venue.modify(
                order.perm_id,
                quantity=req.quantity,
                order_type=order_type,
                limit_price=req.limit_price
                if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
                else None,
                stop_price=req.aux_price
                if order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
                else None,
            )
        except VenueError as exc:
            self.send_error(req.order_id, exc.code, exc.message)

    def _what_if(self, req: PlaceOrder) -> None:
        """Answer a whatIf order with its margin impact; nothing is placed."""
        if self.server.faults.take_what_if_stall():
            return
        problem = self._validate(req)
        if problem is not None:
            self.send_error(req.order_id, *problem)
            return
        listing = self._listing(req.contract)
        assert listing is not None
        spec = listing.spec
        preview = self.venue.margin_preview(
            self.server.account, spec.symbol, Side(req.action), req.quantity, req.limit_price
        )
        state = preview.account
        init_change, maint_change, fee = (
            preview.init_change,
            preview.maint_change,
            preview.commission,
        )
        margin = msg.MarginState(
            init_before=str(state.init_margin),
            maint_before=str(state.maint_margin),
            equity_before=str(state.net_liquidation),
            init_change=str(init_change),
            maint_change=str(maint_change),
            equity_change=str(-fee),
            init_after=str(state.init_margin + init_change),
            maint_after=str(state.maint_margin + maint_change),
            equity_after=str(state.net_liquidation - fee),
            commission=str(fee),
            min_commission=str(fee),
            max_commission=str(fee),
            commission_currency=spec.currency,
        )
        order = msg.WireOrder(
            contract=wire_contract(listing, req.contract.exchange),
            order_id=req.order_id,
            client_id=self._cid,
            perm_id=0,
            parent_id=req.parent_id,
            action=req.action,
            quantity=req.quantity,
            order_type=req.order_type,
            limit_price=req.limit_price,
            aux_price=req.aux_price,
            tif=req.tif,
            oca_group=req.oca_group,
            account=self.server.account,
            order_ref=req.order_ref,
            status="PreSubmitted",
            filled=Decimal(0),
            remaining=req.quantity,
            avg_fill_price=Decimal(0),
            last_fill_price=Decimal(0),
        )
        self.send(msg.open_order(order, self.version, what_if=True, margin=margin))

    def _cancel_order(self, fields: list[str]) -> None:
        order_id = int(fields[2])
        staged = [s for s in self._staged if s.order_id == order_id]
        if staged:
            self._staged = [s for s in self._staged if s.order_id != order_id]
            self.send_error(order_id, Code.CANCELLED, "Order Canceled - reason:")
            return
        perm_id = self.server.order_keys.get((self._cid, order_id))
        order = self.venue.order(perm_id) if perm_id is not None else None
        refusal = self.server.faults.take_cancel_refusal()
        if refusal is not None:  # fault injection: TWS answers the cancel, the order stays
            self.send_error(order_id, refusal, CANCEL_REFUSALS[refusal].format(id=order_id))
            return
        if perm_id is None or order is None:
            self.send_error(
                order_id,
                Code.CANCEL_NOT_FOUND,
                f"OrderId {order_id} that needs to be cancelled is not found.",
            )
            return
        if not order.is_open:
            self.send_error(
                order_id,
                Code.CANCEL_NOT_ALLOWED,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {tws_status(order)}.",
            )
            return
        self.send(msg.order_status(wire_order(self.venue, order, "PendingCancel"), self.version))
        if self.server.faults.take_fill_on_cancel():
            self.venue.force_fill(perm_id)  # the fill wins the race with the cancel
        try:
            self.venue.cancel(perm_id, "cancelled by client")
        except VenueError as exc:
            self.send_error(order_id, exc.code, exc.message)

    def _global_cancel(self, fields: list[str]) -> None:
        self.venue.cancel_all(self.server.account)

    def _mine(self, order: SimOrder, all_clients: bool = False) -> bool:
        return all_clients or self._cid == 0 or order.client_id == self._cid

    def _open_orders(self, fields: list[str], all_clients: bool = False) -> None:
        for order in self.venue.orders(self.server.account, open_only=True):
            if self._mine(order, all_clients):
                self.send_order(order)
        self.send(msg.open_order_end())

    def _all_open_orders(self, fields: list[str]) -> None:
        self._open_orders(fields, all_clients=True)

    def _completed_orders(self, fields: list[str]) -> None:
        version = self.version
        for order in self.venue.orders(self.server.account):
            if not order.is_open:
                self.send(
                    msg.completed_order(wire_order(self.venue, order), version, order.created)
                )
        self.send(msg.completed_orders_end())

    def _req_executions(self, fields: list[str]) -> None:
        req_id, flt = parse_exec_filter(fields)
        side = {"BUY": "BOT", "SELL": "SLD"}.get(flt.side, flt.side)
        for ex in self.venue.executions(self.server.account):
            wire = wire_execution(self.venue, ex, req_id)
            if flt.client_id and ex.client_id != flt.client_id:
                continue
            if (flt.account and flt.account != ex.account) or (
                flt.symbol and flt.symbol != ex.symbol
            ):
                continue
            if side and side != wire.side:
                continue
            self.send(msg.exec_details(wire, self.version))
            self.send(msg.commission_report(ex.exec_id, ex.commission, "USD", ex.realized_pnl))
        self.send(msg.exec_details_end(req_id))

    # --- contracts (orders name one) -------------------------------------------------------

    def _listing(self, c: ContractRef) -> Listing | None:
        """The one contract an order names (None when unknown or ambiguous)."""
        found = resolve(self, c)
        return found[0] if len(found) == 1 else None

    def on_quote(self, quote: SimQuote) -> None:
        self.market.on_quote(quote)

    def on_account_change(self, symbol: str) -> None:
        self.account.on_account_change(symbol)

    # --- venue events for this client's orders ------------------------------------------------

    def send_order(self, order: SimOrder, status: str | None = None) -> None:
        wire = wire_order(self.venue, order, status)
        self.send(msg.open_order(wire, self.version))
        self.send(msg.order_status(wire, self.version))

    def on_order_event(self, event: VenueOrderEvent) -> None:
        order = event.order
        if event.kind is OrderEventKind.ACCEPTED:
            self.send_order(order, "PreSubmitted")
            if not order.held:
                self.send_order(order, "Submitted")
        elif event.kind is OrderEventKind.ACTIVATED:
            self.send_order(order, "Submitted")
        elif event.kind is OrderEventKind.MODIFIED:
            self.send_order(order)
        elif event.kind is OrderEventKind.CANCELLED:
            self.send(msg.order_status(wire_order(self.venue, order), self.version))
            self.send_error(
                order.order_id, Code.CANCELLED, f"Order Canceled - reason:{event.reason}"
            )
        elif event.kind is OrderEventKind.REJECTED:
            self.send_error(order.order_id, event.code, event.reason)

    def on_fill(self, event: VenueFillEvent) -> None:
        ex = event.execution
        version = self.version
        self.send(msg.exec_details(wire_execution(self.venue, ex, -1), version))
        self.send_order(event.order)
        self.send(msg.commission_report(ex.exec_id, ex.commission, "USD", ex.realized_pnl))
