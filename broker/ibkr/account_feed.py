"""Account side of the adapter: account values, positions, their resync after a reconnect."""

from __future__ import annotations

from decimal import Decimal

from ib_async import AccountValue, Position

from broker.ibkr import convert
from broker.ibkr.account import AccountBook
from broker.ibkr.link import IbLink
from contracts.broker import AccountSnapshot, AccountUpdated, BrokerPosition, PositionUpdated


class AccountFeed:
    """Keeps the account snapshot and positions of the session's account current."""

    def __init__(self, link: IbLink) -> None:
        self._link = link
        self._book = AccountBook("")
        self._dirty = False
        self._streaming = False
        """The first full account download of the session is in: stream changes from now."""
        self._positions: dict[int, BrokerPosition] = {}

    def switch_account(self, account: str) -> None:
        """A session on a different account starts from nothing."""
        self._book = AccountBook(account)
        self._positions.clear()

    def on_disconnected(self) -> None:
        self._streaming = False

    async def account(self) -> AccountSnapshot:
        """The account snapshot kept live by the account-updates subscription."""
        self._link.require_socket()
        if not self._book.has_values:
            async with self._link.sync_lock:
                await self.request_account_updates()
        return self._book.snapshot(self._link.clock.now())

    async def positions(self) -> list[BrokerPosition]:
        self._link.require_socket()
        async with self._link.sync_lock:
            positions = await self._link.request(self._link.ib.reqPositionsAsync)
        return self._ours(positions)

    async def resync(self) -> None:
        """Positions then account values; a position gone while away is reported flat.

        The caller holds the sync lock.
        """
        before = dict(self._positions)
        positions = await self._link.request(self._link.ib.reqPositionsAsync)
        account_id = self._link.account_id
        seen = {p.contract.conId for p in positions if p.account == account_id}
        for con_id, gone in before.items():
            if con_id not in seen and gone.quantity != 0:
                flat = gone.model_copy(update={"quantity": Decimal(0)})
                self._positions[con_id] = flat
                self._link.emit(PositionUpdated(ts=self._link.clock.now(), position=flat))
        await self.request_account_updates()

    async def request_account_updates(self) -> None:
        account = self._link.account_id or ""
        await self._link.request(lambda: self._link.ib.reqAccountUpdatesAsync(account))
        self._streaming = True
        self._dirty = self._book.has_values
        self.flush()

    # --- ib_async event handlers (synchronous) -----------------------------------------------

    def on_account_value(self, value: AccountValue) -> None:
        if value.modelCode:
            return
        if self._book.update(value.account, value.tag, value.value, value.currency):
            self._dirty = True

    def flush(self) -> None:
        """One AccountUpdated per socket read, once the first full download is in."""
        if self._dirty and self._streaming and self._book.has_values:
            self._dirty = False
            now = self._link.clock.now()
            self._link.emit(AccountUpdated(ts=now, account=self._book.snapshot(now)))

    def on_position(self, position: Position) -> None:
        if position.account != self._link.account_id:
            return
        converted = convert.position_to_broker(position)
        if converted is None:
            return
        self._positions[position.contract.conId] = converted
        self._link.emit(PositionUpdated(ts=self._link.clock.now(), position=converted))

    def _ours(self, positions: list[Position]) -> list[BrokerPosition]:
        result = []
        for position in positions:
            if position.account != self._link.account_id:
                continue
            converted = convert.position_to_broker(position)
            if converted is not None:
                result.append(converted)
        return result
