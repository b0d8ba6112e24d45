"""Opening an ib_async session: connectAsync raced against 326 / early close; log redaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ib_async import IB
from ib_async.ib import StartupFetchNONE

from broker.ibkr.mapping import ErrorCategory, classify_error
from broker.ibkr.safety import mask_account
from engine.ports import BrokerUnavailable

log = logging.getLogger(__name__)

IB_LOGGERS = ("ib_async.client", "ib_async.wrapper", "ib_async.ib", "ib_async.Decoder")


class ClientIdInUse(BrokerUnavailable):
    """TWS answered 326: another session holds this client id. Retry only after a pause."""


async def open_ib(
    ib: IB,
    host: str,
    port: int,
    client_id: int,
    *,
    timeout_s: float,
    readonly: bool = False,
) -> None:
    """Connect `ib` (handshake + startApi) without ib_async's start-up fetches.

    Fails fast on error 326 or when TWS closes the socket during the handshake, instead of
    waiting out the timeout (ib_async only logs those).

    Raises:
        ClientIdInUse: 326.
        BrokerUnavailable: refused, timed out, or closed by the peer.
    """
    loop = asyncio.get_running_loop()
    failure: asyncio.Future[BrokerUnavailable] = loop.create_future()

    def on_error(req_id: int, code: int, message: str, _contract: Any) -> None:
        if failure.done():
            return
        if classify_error(code) is ErrorCategory.CLIENT_ID_IN_USE:
            failure.set_result(ClientIdInUse(f"client id {client_id} is already in use ({code})"))

    def on_api_error(message: str) -> None:
        if not failure.done():
            failure.set_result(BrokerUnavailable(f"TWS closed the connection: {message}"))

    def on_socket_closed(message: str) -> None:
        if not failure.done():
            failure.set_result(
                BrokerUnavailable(f"TWS closed the connection during the handshake {message}")
            )

    conn = ib.client.conn
    if conn.transport is not None:  # a previous socket is still closing: let it finish
        conn.disconnect()
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(conn.disconnected, timeout_s)
    ib.errorEvent += on_error
    ib.client.apiError += on_api_error
    conn.disconnected += on_socket_closed
    task = asyncio.ensure_future(
        ib.connectAsync(
            host,
            port,
            clientId=client_id,
            timeout=timeout_s,
            readonly=readonly,
            fetchFields=StartupFetchNONE,
        )
    )
    try:
        done, _ = await asyncio.wait({task, failure}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            try:
                task.result()
            except TimeoutError:
                if failure.done():
                    raise failure.result() from None
                raise BrokerUnavailable(
                    f"no answer from {host}:{port} within {timeout_s:g}s"
                ) from None
            except (OSError, ConnectionError) as exc:
                if failure.done():
                    raise failure.result() from None
                raise BrokerUnavailable(f"cannot connect to {host}:{port}: {exc}") from None
            return
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        ib.disconnect()
        raise failure.result()
    except asyncio.CancelledError:
        task.cancel()
        ib.disconnect()
        raise
    finally:
        ib.errorEvent -= on_error
        ib.client.apiError -= on_api_error
        conn.disconnected -= on_socket_closed
        if not failure.done():
            failure.cancel()


class RedactAccounts(logging.Filter):
    """Replace account ids in log records with a masked form (live account ids never logged)."""

    def __init__(self) -> None:
        super().__init__("deskgate-redact")
        self.accounts: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.accounts:
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        changed = text
        for account in self.accounts:
            if account in changed:
                changed = changed.replace(account, mask_account(account))
        if changed != text:
            record.msg = changed
            record.args = ()
        return True


_REDACTOR = RedactAccounts()


def redact_account_in_logs(account: str) -> None:
    """From now on, mask `account` in every ib_async and deskgate broker log record."""
    if not _REDACTOR.accounts:
        for name in (*IB_LOGGERS, "broker.ibkr", "broker.ibkr.adapter", __name__):
            logging.getLogger(name).addFilter(_REDACTOR)
    _REDACTOR.accounts.add(account)
