"""`GatewayServer`: the simulated venue served over the TWS socket protocol on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from broker.gateway.faults import FaultInjector
from broker.gateway.limits import GatewayLimits
from broker.gateway.pacing import PacingPolicy
from broker.gateway.session import ClientSession
from broker.sim.bar_stream import BarStream
from broker.sim.events import VenueEvent, VenueFillEvent, VenueOrderEvent, VenueQuoteEvent
from broker.sim.scheduler import AsyncioScheduler
from broker.sim.streamer import QuoteStreamer
from broker.sim.venue import SimVenue
from contracts.enums import ChaosMode

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS = (176, 178)


class GatewayServer:
    """An asyncio TCP server; one `ClientSession` per connection, one venue shared by all."""

    def __init__(
        self,
        venue: SimVenue,
        *,
        account: str = "DU1234567",
        host: str = "127.0.0.1",
        port: int = 0,
        server_version: int = 176,
        pacing: PacingPolicy | None = None,
        limits: GatewayLimits | None = None,
    ) -> None:
        if server_version not in SUPPORTED_VERSIONS:
            raise ValueError(f"server_version must be one of {SUPPORTED_VERSIONS}")
        self.venue = venue
        self.account = account
        self.host = host
        self.port = port
        self.server_version = server_version
        self.pacing = pacing or PacingPolicy()
        self.limits = limits or GatewayLimits()
        self.refused_connections = 0
        self.pacing_refused = 0
        """Requests refused for pacing (error 100 or dropped), every session since the start."""
        self.read_only = False
        """TWS's "Read-Only API" setting: order entry is refused with error 321."""
        self.data_connected = True
        """False between a 1100 and its 1101/1102: no ticks or bars flow (as at TWS)."""
        self.faults = FaultInjector(self)
        self.bars = BarStream(venue)
        """Live 5-second bars shared by every session's subscriptions."""
        self.sessions: set[ClientSession] = set()
        self.order_keys: dict[tuple[int, int], int] = {}
        """(clientId, orderId) -> permId for every order a client placed."""
        self.unheard: set[int] = set()
        """permIds whose status changes no client is told of (FaultInjector.lose_order)."""
        self._by_client: dict[int, ClientSession] = {}
        self._next_ids: dict[int, int] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        venue.add_account(account)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and listen; afterwards `port` is the real bound port."""
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._unsubscribe = self.venue.subscribe(self._on_venue_event)
        log.info("gateway listening on %s:%s (v%s)", self.host, self.port, self.server_version)

    async def stop(self) -> None:
        """Stop listening, drop every client and wait for their sessions to end."""
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.bars.close()

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.sessions) >= self.limits.max_connections:
            self.refused_connections += 1
            log.warning("gateway refused a connection: %d sessions open", len(self.sessions))
            writer.transport.abort()
            return
        session = ClientSession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.get_running_loop().create_task(session.run(), name="gateway-session")
        self._tasks.add(task)
        task.add_done_callback(self._session_done)

    def _session_done(self, task: asyncio.Task[None]) -> None:
        """Retrieve every session's outcome, so none is left 'never retrieved'."""
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway session failed", exc_info=task.exception())

    # --- sessions ---------------------------------------------------------------------------

    def client_in_use(self, client_id: int, session: ClientSession) -> bool:
        other = self._by_client.get(client_id)
        return other is not None and other is not session and not other.closed

    def attach(self, session: ClientSession) -> None:
        if session.client_id is not None:
            self._by_client[session.client_id] = session

    def detach(self, session: ClientSession) -> None:
        self.sessions.discard(session)
        if session.client_id is not None and self._by_client.get(session.client_id) is session:
            del self._by_client[session.client_id]

    def connected_clients(self) -> list[int]:
        """Client ids with a live API session."""
        return sorted(cid for cid, s in self._by_client.items() if s.ready)

    def next_order_id(self, client_id: int) -> int:
        return self._next_ids.get(client_id, 1)

    def note_order_id(self, client_id: int, order_id: int) -> None:
        self._next_ids[client_id] = max(self.next_order_id(client_id), order_id + 1)

    # --- venue events -----------------------------------------------------------------------

    def _on_venue_event(self, event: VenueEvent) -> None:
        if isinstance(event, VenueQuoteEvent):
            for session in list(self.sessions):
                if session.ready and session.market.market_data and self.data_connected:
                    session.on_quote(event.quote)
            return
        order = event.order
        if order.account != self.account:
            return
        owner = self._by_client.get(order.client_id)
        live_owner = owner if owner is not None and owner.ready else None
        if isinstance(event, VenueOrderEvent):
            if live_owner is not None and order.perm_id not in self.unheard:
                live_owner.on_order_event(event)
        elif isinstance(event, VenueFillEvent):
            if live_owner is not None:
                live_owner.on_fill(event)
            for session in list(self.sessions):
                if session.ready:
                    session.on_account_change(order.symbol)


async def run_gateway(port: int, seed: int, chaos: ChaosMode, account: str) -> None:
    """Serve a fresh seeded venue over the TWS protocol until cancelled (the CLI entry)."""
    venue = SimVenue(seed, chaos, scheduler=AsyncioScheduler())
    server = GatewayServer(venue, account=account, host="127.0.0.1", port=port)
    streamer = QuoteStreamer(venue, rate=4.0)
    await server.start()
    server.bars.drive([spec.symbol for spec in venue.symbols()])  # quotes follow the bars
    streamer.start()
    try:
        await asyncio.Event().wait()
    finally:
        await streamer.stop()
        await server.stop()
