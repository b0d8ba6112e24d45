"""The ib_async link the adapter's components share: pacing, timed requests, event delivery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ib_async import IB

from broker.ibkr.pacing import OutboundPacer
from contracts.broker import BrokerEvent, BrokerNotice
from engine.clock import Clock
from engine.ports import BrokerUnavailable, EventSink

log = logging.getLogger(__name__)

T = TypeVar("T")


class IbLink:
    """One ib_async `IB` plus what every component needs to use it safely.

    Args:
        ib: the ib_async client.
        pacer: outbound pacing shared by every request the adapter sends.
        clock: timestamps of the events delivered.
        request_timeout_s: timeout of each sync request.
    """

    def __init__(
        self, ib: IB, pacer: OutboundPacer, clock: Clock, request_timeout_s: float
    ) -> None:
        self.ib = ib
        self.pacer = pacer
        self.clock = clock
        self.request_timeout_s = request_timeout_s
        self.sink: EventSink | None = None
        self.sync_lock = asyncio.Lock()
        """Held by every resync / confirmation round: their answers never interleave."""
        self.account_id: str | None = None
        self.ready = False
        """The session finished its resync: orders may be sent."""
        self.link_ok = True
        """False between IB 1100 and the resync after 1101/1102."""
        self.read_only_reason: str | None = None
        """The API session refuses orders (TWS "Read-Only API"): why, as TWS said it."""

    @property
    def orders_allowed(self) -> bool:
        """True while new orders can be sent (session up, resynced, IB link up, writable)."""
        return (
            self.ready and self.link_ok and self.ib.isConnected() and self.read_only_reason is None
        )

    def can_send(self) -> bool:
        """Cancels may go out: the socket is up and IB is reachable (not between 1100/110x)."""
        return self.ib.isConnected() and self.link_ok

    def require_orders_allowed(self) -> None:
        """Raise BrokerUnavailable unless a new order may be sent now."""
        if self.orders_allowed:
            return
        if self.read_only_reason is not None and self.ib.isConnected():
            reason = f"the API session is read-only ({self.read_only_reason})"
        elif self.ready and not self.link_ok:
            reason = "IB connectivity lost (1100)"
        else:
            reason = "not connected to IB (or resync not finished)"
        raise BrokerUnavailable(f"{reason}: new orders are blocked")

    def require_socket(self) -> None:
        if not self.ib.isConnected():
            raise BrokerUnavailable("not connected to IB")

    async def request(self, factory: Callable[[], Awaitable[T]], *, background: bool = False) -> T:
        """One paced sync request with a timeout; failures become BrokerUnavailable.

        `background` requests (whatIf previews) are paced behind queued orders and cancels.
        """
        await self.pacer.acquire(1, background=background)
        self.require_socket()
        try:
            return await asyncio.wait_for(factory(), self.request_timeout_s)
        except TimeoutError:
            raise BrokerUnavailable("the broker did not answer a sync request in time") from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"connection lost: {exc}") from None

    def notice(self, code: int, message: str, order_ref: str | None = None) -> None:
        self.emit(
            BrokerNotice(ts=self.clock.now(), code=code, message=message, order_ref=order_ref)
        )

    def emit(self, event: BrokerEvent) -> None:
        if self.sink is None:
            return
        try:
            self.sink(event)
        except Exception:
            log.exception("event sink failed on %s", type(event).__name__)
