"""One session's positions and account feeds: reqPositions, account updates and summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from broker.gateway import messages as msg
from broker.gateway.account_values import account_values, summary_values
from broker.gateway.wire import contract_for

if TYPE_CHECKING:
    from broker.gateway.session import ClientSession


class AccountDesk:
    """What a client subscribed to about the account, and the messages that answer it."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.positions_subscribed = False
        self.account_subscribed = False
        self.multi_subscriptions: set[int] = set()

    def req_positions(self, fields: list[str]) -> None:
        self.positions_subscribed = True
        for symbol in [p.symbol for p in self.session.venue.positions(self.session.server.account)]:
            self._send_position(symbol)
        self.session.send(msg.position_end())

    def cancel_positions(self, fields: list[str]) -> None:
        self.positions_subscribed = False

    def req_account_updates(self, fields: list[str]) -> None:
        subscribe = fields[2] not in ("0", "")
        self.account_subscribed = subscribe
        if not subscribe:
            return
        account = self.session.server.account
        self._send_account_values()
        for p in self.session.venue.positions(account):
            if p.quantity != 0:
                self._send_portfolio(p.symbol)
        self.session.send(msg.account_time(self.session.venue.scheduler.now()))
        self.session.send(msg.account_download_end(account))

    def req_account_updates_multi(self, fields: list[str]) -> None:
        req_id = int(fields[2])
        self.multi_subscriptions.add(req_id)
        self._send_multi(req_id)
        self.session.send(msg.account_update_multi_end(req_id))

    def cancel_account_updates_multi(self, fields: list[str]) -> None:
        self.multi_subscriptions.discard(int(fields[2]))

    def req_account_summary(self, fields: list[str]) -> None:
        req_id, tags = int(fields[2]), fields[4]
        account = self.session.server.account
        for tag, value, currency in summary_values(self.session.venue.account(account), tags):
            self.session.send(msg.account_summary(req_id, account, tag, value, currency))
        self.session.send(msg.account_summary_end(req_id))

    def _send_account_values(self) -> None:
        account = self.session.server.account
        for tag, value, currency in account_values(self.session.venue.account(account)):
            self.session.send(msg.account_value(tag, value, currency, account))

    def _send_multi(self, req_id: int) -> None:
        account = self.session.server.account
        for tag, value, currency in account_values(self.session.venue.account(account)):
            self.session.send(msg.account_update_multi(req_id, account, tag, value, currency))

    def _send_position(self, symbol: str) -> None:
        account = self.session.server.account
        for p in self.session.venue.positions(account):
            if p.symbol == symbol:
                contract = contract_for(self.session.venue, symbol, p.con_id)
                avg_cost = p.avg_cost * contract.multiplier  # IB: per contract, not per point
                self.session.send(msg.position(account, contract, p.quantity, avg_cost))

    def _send_portfolio(self, symbol: str) -> None:
        account = self.session.server.account
        mark = self.session.venue.quote(symbol).last
        for p in self.session.venue.positions(account):
            if p.symbol == symbol:
                contract = contract_for(self.session.venue, symbol, p.con_id)
                multiplier = contract.multiplier
                self.session.send(
                    msg.portfolio_value(
                        contract,
                        p.quantity,
                        mark,
                        p.quantity * mark * multiplier,
                        p.avg_cost * multiplier,
                        (mark - p.avg_cost) * p.quantity * multiplier,
                        p.realized_pnl,
                        account,
                    )
                )

    def on_account_change(self, symbol: str) -> None:
        """After a fill: push positions/account values to whoever subscribed."""
        if self.positions_subscribed:
            self._send_position(symbol)
        if self.account_subscribed:
            self._send_account_values()
            self._send_portfolio(symbol)
            self.session.send(msg.account_time(self.session.venue.scheduler.now()))
        for req_id in sorted(self.multi_subscriptions):
            self._send_multi(req_id)
