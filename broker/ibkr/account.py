"""The account book: IB account value rows folded into an `AccountSnapshot`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from broker.ibkr import mapping
from broker.ibkr.safety import is_paper_account
from contracts.broker import AccountSnapshot


class AccountBook:
    """Account values of one account, as the latest rows from IB say.

    `update` returns True when a row changed a snapshot field, so the adapter can deliver
    one AccountUpdated per socket read instead of one per row.
    """

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.currency = ""
        self._fields: dict[str, Decimal | None] = {}
        self.account_type = ""
        self.permissions: dict[str, str] = {}
        self.has_values = False

    def update(self, account: str, tag: str, value: str, currency: str) -> bool:
        """Fold one row in; True if the snapshot changed."""
        if account != self.account_id:
            return False
        if tag == mapping.ACCOUNT_TYPE_TAG:
            self.account_type = value
            return False
        if tag.startswith(mapping.PERMISSION_TAG_PREFIXES):
            self.permissions[tag] = value
            return False
        name = mapping.account_field(tag, currency)
        if name is None:
            return False
        changed = False
        if tag == mapping.BASE_CURRENCY_TAG and currency and currency != self.currency:
            self.currency = currency
            changed = True
        number = mapping.to_decimal(value)
        if self._fields.get(name, ...) != number:
            self._fields[name] = number
            changed = True
        self.has_values = True
        return changed

    def snapshot(self, ts: datetime) -> AccountSnapshot:
        return AccountSnapshot(
            account_id=self.account_id,
            is_paper=is_paper_account(self.account_id),
            currency=self.currency or "USD",
            ts=ts,
            **self._fields,
        )
