"""Scriptable fault injection for the gateway: drops, connectivity codes, delays, races.

Every method acts at once (drops, broadcasts, forced fills) or arms a one-shot fault that the
next matching request consumes (delayed ack, rejection, partial, fill-on-cancel, failed modify).

| method                      | what the client sees                                              |
| --------------------------- | ----------------------------------------------------------------- |
| drop_connections            | socket closed abruptly (ib_async: disconnectedEvent)              |
| connectivity_lost           | error 1100 (reqId -1)                                             |
| connectivity_restored       | error 1101 (data lost) or 1102 (data maintained)                  |
| farm_status                 | 2104/2106/2158 OK or 2103/2105/2157 broken                        |
| delay_next_acks             | the next orders stay PendingSubmit for `seconds`, then proceed    |
| reject_next_orders          | the next orders get error 201 with the given reason               |
| partial_fill_next_orders    | the next orders fill partially first, the rest on the next quote  |
| fill_on_next_cancel         | PendingCancel, then a fill, then error 10148 (fill beat the cancel)|
| fail_next_modify            | the next modify gets error 105 (or `code`); the order stays live  |
| fill_order                  | a fill now, even if the owning client is disconnected             |
| place_manual_order          | an order typed in TWS (clientId 0, orderId 0), seen by all-orders |
| refuse_next_cancel          | the next cancel gets 10147 (or 10148); the order stays live       |
| stall_next_what_ifs         | the next whatIf orders get no answer (no openOrder, no error)     |
| warn_order                  | a warning (399, 404, ...) against a live order; nothing changes   |
| set_read_only               | TWS's Read-Only API: orders/cancels/open-order binding get 321    |
| lose_order                  | nothing: the order leaves the book unheard; open orders omit it   |

connectivity_lost stops ticks and bars; connectivity_restored(data_lost=True) (1101) also drops
every market-data and bar subscription, so only a resubscribe brings them back (as at TWS);
1102 resumes them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from broker.gateway.ids import Code
from broker.sim.chaos import Outcome, ScriptedOutcome
from broker.sim.events import Execution, VenueError
from broker.sim.orders import OrderSpec, SimOrder
from contracts.enums import OrderType, Side

if TYPE_CHECKING:
    from broker.gateway.server import GatewayServer

MARGIN_REASON = (
    "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED "
    "POSITION YOUR EQUITY WITH LOAN VALUE [0.00 USD] MUST EXCEED THE INITIAL MARGIN"
)
CANCEL_REFUSALS: dict[int, str] = {
    Code.CANCEL_NOT_FOUND: "OrderId {id} that needs to be cancelled is not found.",
    Code.CANCEL_NOT_ALLOWED: "OrderId {id} that needs to be cancelled cannot be cancelled.",
}
WARNINGS: dict[int, str] = {
    399: "Order Message:\nWarning: your order will not be placed at the exchange until "
    "the market opens.",
    404: "Order held while securities are located.",
}
FARMS_OK: tuple[tuple[int, str], ...] = (
    (Code.MD_FARM_OK, "Market data farm connection is OK:usfarm"),
    (Code.HMDS_FARM_OK, "HMDS data farm connection is OK:ushmds"),
    (Code.SECDEF_FARM_OK, "Sec-def data farm connection is OK:secdefil"),
)
FARMS_BROKEN: tuple[tuple[int, str], ...] = (
    (2103, "Market data farm connection is broken:usfarm"),
    (2105, "HMDS data farm connection is broken:ushmds"),
    (2157, "Sec-def data farm connection is broken:secdefil"),
)


class FaultInjector:
    """The gateway's fault API for tests and chaos runs (see the module table)."""

    def __init__(self, server: GatewayServer) -> None:
        self._server = server
        self._fill_on_cancel = 0
        self._modify_failures: list[tuple[int, str]] = []
        self._cancel_refusals: list[int] = []
        self._what_if_stalls = 0

    # --- immediate --------------------------------------------------------------------------

    def drop_connections(self, client_id: int | None = None) -> int:
        """Abort client sockets (all, or one client id); returns how many were dropped."""
        dropped = 0
        for session in list(self._server.sessions):
            if client_id is None or session.client_id == client_id:
                session.abort()
                dropped += 1
        return dropped

    def connectivity_lost(self) -> None:
        self._server.data_connected = False
        self._broadcast(
            Code.CONNECTIVITY_LOST,
            "Connectivity between IB and Trader Workstation has been lost.",
        )

    def connectivity_restored(self, data_lost: bool = False) -> None:
        self._server.data_connected = True
        if data_lost:
            for session in list(self._server.sessions):
                session.market.drop_subscriptions()
            self._broadcast(
                Code.RESTORED_DATA_LOST,
                "Connectivity between IB and Trader Workstation has been restored - data lost.",
            )
        else:
            self._broadcast(
                Code.RESTORED_DATA_KEPT,
                "Connectivity between IB and Trader Workstation has been restored - data "
                "maintained.",
            )

    def farm_status(self, ok: bool) -> None:
        for code, text in FARMS_OK if ok else FARMS_BROKEN:
            self._broadcast(code, text)

    def fill_order(
        self,
        client_id: int,
        order_id: int,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> Execution:
        """Fill a live order now, whether or not its client is connected."""
        perm_id = self._server.order_keys.get((client_id, order_id))
        if perm_id is None:
            raise VenueError(Code.CANCEL_NOT_FOUND, f"no order {order_id} for client {client_id}")
        return self._server.venue.force_fill(perm_id, quantity, price)

    def place_manual_order(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        limit_price: Decimal | None = None,
        order_ref: str = "",
    ) -> SimOrder:
        """An order typed into TWS by hand: clientId 0, orderId 0, known only by its permId."""
        return self._server.venue.submit(
            OrderSpec(
                account=self._server.account,
                symbol=symbol,
                side=side,
                quantity=quantity,
                order_type=OrderType.MARKET if limit_price is None else OrderType.LIMIT,
                limit_price=limit_price,
                order_ref=order_ref,
            )
        )

    def warn_order(
        self, client_id: int, order_id: int, code: int = 399, message: str | None = None
    ) -> None:
        """Send a warning against a live order to its client; the order is not touched."""
        text = message if message is not None else WARNINGS.get(code, "Order Message: warning")
        for session in list(self._server.sessions):
            if session.ready and session.client_id == client_id:
                session.send_error(order_id, code, text)

    def lose_order(self, order_ref: str) -> SimOrder:
        """An open order leaves the venue's book and no client hears of it (its status lost on
        the wire, an exit expired in a gap): only the open-orders answers show it gone."""
        order = next(
            (o for o in self._server.venue.orders(open_only=True) if o.order_ref == order_ref),
            None,
        )
        if order is None:
            raise VenueError(Code.CANCEL_NOT_FOUND, f"no open order with orderRef {order_ref!r}")
        self._server.unheard.add(order.perm_id)
        return self._server.venue.cancel(order.perm_id, "lost")

    def set_read_only(self, on: bool = True) -> None:
        self._server.read_only = on

    # --- one-shot, armed for the next matching request ----------------------------------------

    def refuse_next_cancel(self, code: int = Code.CANCEL_NOT_FOUND, count: int = 1) -> None:
        """The next cancels are answered with 10147 (not found) or 10148; orders stay live."""
        if code not in CANCEL_REFUSALS:
            raise ValueError(f"cancel refusal code must be one of {sorted(CANCEL_REFUSALS)}")
        self._cancel_refusals.extend([code] * count)

    def delay_next_acks(self, seconds: float, count: int = 1) -> None:
        self._script(ScriptedOutcome(Outcome.DELAY, delay=seconds), count)

    def reject_next_orders(self, count: int = 1, reason: str = MARGIN_REASON) -> None:
        self._script(ScriptedOutcome(Outcome.REJECT, reason=reason), count)

    def partial_fill_next_orders(self, count: int = 1) -> None:
        self._script(ScriptedOutcome(Outcome.PARTIAL), count)

    def fill_on_next_cancel(self, count: int = 1) -> None:
        self._fill_on_cancel += count

    def fail_next_modify(
        self,
        code: int = Code.MODIFY_MISMATCH,
        message: str = "Order being modified does not match original order.",
        count: int = 1,
    ) -> None:
        self._modify_failures.extend([(code, message)] * count)

    def stall_next_what_ifs(self, count: int = 1) -> None:
        """The next whatIf orders get no answer at all (TWS's margin server not answering)."""
        self._what_if_stalls += count

    # --- consumed by sessions -------------------------------------------------------------

    def take_what_if_stall(self) -> bool:
        if self._what_if_stalls > 0:
            self._what_if_stalls -= 1
            return True
        return False

    def take_fill_on_cancel(self) -> bool:
        if self._fill_on_cancel > 0:
            self._fill_on_cancel -= 1
            return True
        return False

    def take_cancel_refusal(self) -> int | None:
        return self._cancel_refusals.pop(0) if self._cancel_refusals else None

    def take_modify_failure(self) -> tuple[int, str] | None:
        return self._modify_failures.pop(0) if self._modify_failures else None

    # --- helpers ----------------------------------------------------------------------------

    def _script(self, outcome: ScriptedOutcome, count: int) -> None:
        self._server.venue.script(*([outcome] * count))

    def _broadcast(self, code: int, text: str) -> None:
        for session in list(self._server.sessions):
            if session.ready:
                session.send_error(-1, code, text)
