"""Session side of the adapter: connect, account checks, reconnect, heartbeat, 1100/1101/1102."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from broker.ibkr.connection import ClientIdInUse, open_ib
from broker.ibkr.link import IbLink
from broker.ibkr.pacing import ReconnectPolicy
from broker.ibkr.safety import (
    BrokerRefused,
    check_port,
    choose_account,
    is_paper_account,
    mask_account,
)
from contracts.broker import BrokerConnected, BrokerDisconnected, ConnectivityChanged
from engine.ports import BrokerUnavailable

log = logging.getLogger(__name__)

SleepFn = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class SessionHooks:
    """What the session asks of the rest of the adapter at each step."""

    resync: Callable[[], Awaitable[None]]
    """Full resync of orders, fills, positions and account; called with the sync lock held."""
    after_resync: Callable[[bool], Awaitable[None]]
    """Re-send kept cancels; with True also resubscribe market data."""
    drop_market_data: Callable[[], Awaitable[None]]
    """Cancel the streams TWS stopped feeding (1101: data lost)."""
    has_orders: Callable[[], bool]
    switch_account: Callable[[str], None]


@dataclass
class Endpoint:
    """Where and as whom the session connects (host and port may be set before connecting)."""

    host: str
    port: int
    client_id: int
    wanted_account: str | None
    live_confirmed: str | None
    connect_timeout_s: float


class IbSession:
    """Owns the connection's life: first connect, reconnects, heartbeats and IB link codes."""

    def __init__(
        self,
        link: IbLink,
        endpoint: Endpoint,
        hooks: SessionHooks,
        *,
        policy: ReconnectPolicy,
        sleep: SleepFn,
        market_data_type: int,
        heartbeat_s: float | None,
    ) -> None:
        self._link = link
        self._endpoint = endpoint
        self._hooks = hooks
        self._policy = policy
        self._sleep = sleep
        self._market_data_type = market_data_type
        self._heartbeat_s = heartbeat_s
        self.heartbeats_answered = 0
        """Diagnostics: heartbeats TWS answered, and the last round trip in seconds."""
        self.heartbeat_rtt_s: float | None = None
        self._session_up = False
        """A session was established and its loss not yet reported."""
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._restore_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._down_reason: str | None = None
        self._wake = asyncio.Event()
        """Set by `reconnect_now`: the reconnect loop skips its backoff wait (not its budget)."""

    @property
    def session_up(self) -> bool:
        return self._session_up

    @property
    def restoring(self) -> asyncio.Task[None] | None:
        """The 1101/1102 resync in flight, if any."""
        task = self._restore_task
        return task if task is not None and not task.done() else None

    async def connect(self) -> None:
        """Connect, check port and account safety, and run the full sync.

        Raises:
            BrokerRefused: unsafe port or account (do not retry).
            BrokerUnavailable: cannot connect now (ClientIdInUse for 326).
        """
        check_port(self._endpoint.port, self._endpoint.live_confirmed)
        self._closing = False
        wait = self._policy.window_delay(self._link.clock.monotonic())
        if wait > 0:
            raise BrokerUnavailable(
                f"too many connection attempts in the last minute; retry in {wait:.0f}s"
            )
        await self._open(reconnect=False)

    async def disconnect(self) -> None:
        """Close the session and stop reconnecting; idempotent."""
        self._closing = True
        for task in (self._reconnect_task, self._restore_task, self._heartbeat_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._link.ready = False
        client = self._link.ib.client
        if client.isConnected() or client.connState != 0:
            self._link.ib.disconnect()
        self._report_down("disconnect requested")

    async def _open(self, *, reconnect: bool) -> None:
        """One connection attempt: connect, check the account, resync, then open for orders.

        After a reconnect the socket's subscriptions and any order news in the gap are gone:
        besides BrokerConnected, a ConnectivityChanged(connected, data_lost) tells the engine
        to reconcile before it trusts its book again.
        """
        link, ep = self._link, self._endpoint
        self._policy.record_attempt(link.clock.monotonic())
        link.ready = False
        await open_ib(link.ib, ep.host, ep.port, ep.client_id, timeout_s=ep.connect_timeout_s)
        try:
            account = choose_account(
                link.ib.managedAccounts(), ep.wanted_account, ep.live_confirmed
            )
        except BrokerRefused:
            link.ib.disconnect()
            raise
        if link.account_id is not None and account != link.account_id and self._hooks.has_orders():
            link.ib.disconnect()
            raise BrokerRefused(
                f"the login now shows account {mask_account(account)} instead of "
                f"{mask_account(link.account_id)}; refusing to mix their orders"
            )
        if account != link.account_id:
            self._hooks.switch_account(account)
        link.account_id = account
        link.link_ok = True
        try:
            if self._market_data_type != 1:
                link.ib.reqMarketDataType(self._market_data_type)
            async with link.sync_lock:
                await self._hooks.resync()
            await self._hooks.after_resync(True)
        except BaseException:
            link.ib.disconnect()
            raise
        if not link.ib.isConnected():
            raise BrokerUnavailable("connection lost during the initial sync")
        link.ready = True
        self._session_up = True
        self._down_reason = None
        if self._heartbeat_s:
            self._heartbeat_task = asyncio.ensure_future(self._heartbeat_loop(self._heartbeat_s))
        paper = is_paper_account(account)
        log.info(
            "connected to %s:%d as client %d, account %s",
            ep.host,
            ep.port,
            ep.client_id,
            account if paper else mask_account(account),
        )
        link.emit(BrokerConnected(ts=link.clock.now(), account_id=account, is_paper=paper))
        if reconnect:
            link.emit(
                ConnectivityChanged(
                    ts=link.clock.now(),
                    connected=True,
                    data_lost=True,
                    message="socket reconnected: reconcile before new orders",
                )
            )

    def on_disconnected(self) -> None:
        self._link.ready = False
        for task in (self._restore_task, self._heartbeat_task):
            if task is not None and not task.done():
                task.cancel()
        if not self._session_up:
            return  # a failed attempt: its caller handles it
        reason = self._down_reason or "connection to TWS lost"
        self._report_down("disconnect requested" if self._closing else reason)
        if not self._closing and (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.ensure_future(self._reconnect_loop())

    def _report_down(self, reason: str) -> None:
        if self._session_up:
            self._session_up = False
            log.warning("broker session down: %s", reason)
            self._link.emit(BrokerDisconnected(ts=self._link.clock.now(), reason=reason))

    def reconnect_now(self) -> str:
        """The trader's reconnect-now: the reconnect loop's next attempt starts at once (its
        attempts-per-minute budget still holds). Only the loop connects, so an attempt in
        flight is never joined by a second one; a loop that gave up is started again."""
        if self._session_up:
            return "already connected"
        if self._closing:
            return "disconnect requested: not reconnecting"
        self._wake.set()
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.ensure_future(self._reconnect_loop())
            return "reconnecting now"
        return "reconnecting now (the reconnect loop's next attempt)"

    async def _wait_or_wake(self, delay: float) -> None:
        """The backoff wait, cut short by `reconnect_now` (then only the budget is waited)."""
        if not self._wake.is_set() and delay > 0:
            sleeper = asyncio.ensure_future(self._sleep(delay))
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, woken):
                    task.cancel()
        if self._wake.is_set():
            self._wake.clear()
            budget = self._policy.window_delay(self._link.clock.monotonic())
            if budget > 0:
                await self._sleep(budget)

    async def _reconnect_loop(self) -> None:
        failures = 0
        client_id_in_use = False
        while not self._closing:
            delay = self._policy.next_delay(
                failures, self._link.clock.monotonic(), client_id_in_use=client_id_in_use
            )
            await self._wait_or_wake(delay)
            if self._closing:
                return
            try:
                await self._open(reconnect=True)
                self._wake.clear()  # a press during the attempt is spent: the next drop backs off
                log.info("reconnected after %d failed attempt(s)", failures)
                return
            except BrokerRefused as exc:
                log.error("reconnect refused: %s", exc)
                self._link.notice(0, f"reconnect refused: {exc}")
                return
            except ClientIdInUse as exc:
                failures += 1
                client_id_in_use = True
                self._link.notice(326, str(exc))
            except (BrokerUnavailable, ConnectionError, OSError, TimeoutError) as exc:
                failures += 1
                client_id_in_use = False
                log.warning("reconnect attempt %d failed: %s", failures, exc)

    async def _heartbeat_loop(self, every_s: float) -> None:
        """Detect a silent TWS (half-open socket): no answer to reqCurrentTime means down."""
        ib = self._link.ib
        while self._session_up and ib.isConnected():
            await asyncio.sleep(every_s)
            if not ib.isConnected():
                return
            await self._link.pacer.acquire(1)
            sent = self._link.clock.monotonic()
            try:
                await asyncio.wait_for(ib.reqCurrentTimeAsync(), every_s)
                self.heartbeats_answered += 1
                self.heartbeat_rtt_s = self._link.clock.monotonic() - sent
            except TimeoutError:
                log.error("TWS did not answer the heartbeat within %.1fs: reconnecting", every_s)
                self._down_reason = "TWS stopped answering (heartbeat timeout)"
                ib.disconnect()
                return
            except ConnectionError:
                return

    # --- IB's link to its servers (1100 / 1101 / 1102) ------------------------------------------

    def connectivity_lost(self, message: str) -> None:
        if self._restore_task is not None and not self._restore_task.done():
            self._restore_task.cancel()
        if self._link.link_ok:
            self._link.link_ok = False
            self._link.emit(
                ConnectivityChanged(ts=self._link.clock.now(), connected=False, message=message)
            )

    def connectivity_restored(self, data_lost: bool) -> None:
        log.info("IB connectivity restored (data %s): resync", "lost" if data_lost else "kept")
        if self._restore_task is not None and not self._restore_task.done():
            self._restore_task.cancel()
        self._link.link_ok = False  # closed until the resync is done
        self._restore_task = asyncio.ensure_future(self._restore(data_lost))

    async def _restore(self, data_lost: bool) -> None:
        """After 1101/1102: resync before orders flow again, then say the link is back."""
        link = self._link
        try:
            async with link.sync_lock:
                await self._hooks.resync()
            link.link_ok = True
            if data_lost:
                await self._hooks.drop_market_data()
            await self._hooks.after_resync(data_lost)
        except (BrokerUnavailable, ConnectionError) as exc:
            log.warning("resync after restored connectivity failed: %s", exc)
            return
        link.emit(ConnectivityChanged(ts=link.clock.now(), connected=True, data_lost=data_lost))
