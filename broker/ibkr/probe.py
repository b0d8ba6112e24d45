"""A read-only connect that reports the account, its type and permissions (for `deskgate probe`)."""

from __future__ import annotations

import asyncio

from ib_async import IB, AccountValue
from pydantic import BaseModel, ConfigDict

from broker.ibkr.account import AccountBook
from broker.ibkr.connection import open_ib, redact_account_in_logs
from broker.ibkr.safety import check_port, choose_account
from contracts.broker import AccountSnapshot
from engine.clock import Clock, SystemClock
from engine.ports import BrokerUnavailable


class ProbeResult(BaseModel):
    """What a read-only session reveals about the login and account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int
    server_version: int
    managed_accounts: tuple[str, ...]
    account: AccountSnapshot
    account_type: str
    """IB's AccountType tag (INDIVIDUAL, PARTNERSHIP, ...); empty if not sent."""
    permissions: dict[str, str]
    """What the API reveals about trading permissions: TradingType-*, SegmentTitle-*,
    DayTradesRemaining*. The API does not expose the full permission matrix."""
    readonly: bool = True


async def probe(
    host: str = "127.0.0.1",
    port: int = 4002,
    client_id: int = 0,
    *,
    account: str | None = None,
    live_confirmed_account: str | None = None,
    timeout_s: float = 10.0,
    clock: Clock | None = None,
) -> ProbeResult:
    """Connect read-only (readonly=True: no order requests), read the account and leave.

    The same port and account safety rules as the adapter apply.

    Raises:
        BrokerRefused: unsafe port or account.
        BrokerUnavailable: cannot connect or the account did not answer.
    """
    check_port(port, live_confirmed_account)
    if live_confirmed_account:
        redact_account_in_logs(live_confirmed_account)
    clock = clock or SystemClock()
    ib = IB()
    await open_ib(ib, host, port, client_id, timeout_s=timeout_s, readonly=True)
    try:
        managed = ib.managedAccounts()
        chosen = choose_account(managed, account, live_confirmed_account)
        book = AccountBook(chosen)
        for value in ib.accountValues():
            book.update(value.account, value.tag, value.value, value.currency)

        def on_value(value: AccountValue) -> None:
            book.update(value.account, value.tag, value.value, value.currency)

        ib.accountValueEvent += on_value
        try:
            await asyncio.wait_for(ib.reqAccountUpdatesAsync(chosen), timeout_s)
        except TimeoutError:
            raise BrokerUnavailable("the account did not answer in time") from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"connection lost: {exc}") from None
        finally:
            ib.accountValueEvent -= on_value
        return ProbeResult(
            host=host,
            port=port,
            server_version=ib.client.serverVersion(),
            managed_accounts=tuple(managed),
            account=book.snapshot(clock.now()),
            account_type=book.account_type,
            permissions=dict(sorted(book.permissions.items())),
        )
    finally:
        ib.disconnect()
