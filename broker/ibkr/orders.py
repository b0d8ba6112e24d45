"""The adapter's own order records (keyed by permId), seen executions and pending cancels.

ib_async forgets every Trade on a disconnect and invents local states; these records are
what the adapter trusts between sessions. No ib_async import here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from contracts.enums import BrokerOrderStatus, OrderType, Side
from contracts.intent import Instrument


@dataclass
class OrderRecord:
    """One broker order deskgate placed (or adopted after a restart)."""

    order_ref: str
    order_id: int
    instrument: Instrument
    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    perm_id: int = 0
    status: BrokerOrderStatus = BrokerOrderStatus.PENDING_SUBMIT
    filled: Decimal = Decimal(0)
    accepted: bool = False
    """OrderAccepted was delivered (or the order was adopted already working)."""
    terminal: bool = False
    """A final event (filled, cancelled, rejected) was delivered: nothing more is sent."""
    cancel_pending: bool = False
    """A cancel was asked for and the broker has not confirmed it yet."""
    last_error: tuple[int, str] | None = None
    parent_ref: str | None = None
    """The entry's orderRef for a bracket child."""

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.filled, Decimal(0))


@dataclass
class OrderBook:
    """Records indexed by permId (once known), orderRef and the session's order id."""

    _by_ref: dict[str, OrderRecord] = field(default_factory=dict)
    _by_perm: dict[int, OrderRecord] = field(default_factory=dict)
    _by_order_id: dict[int, OrderRecord] = field(default_factory=dict)
    seen_exec_ids: set[str] = field(default_factory=set)
    seen_commission_ids: set[str] = field(default_factory=set)

    def add(self, record: OrderRecord) -> None:
        if record.order_ref in self._by_ref:
            raise ValueError(f"order_ref {record.order_ref!r} already placed")
        self._by_ref[record.order_ref] = record
        self._by_order_id[record.order_id] = record
        if record.perm_id:
            self._by_perm[record.perm_id] = record

    def set_perm_id(self, record: OrderRecord, perm_id: int) -> None:
        if perm_id and record.perm_id != perm_id:
            if record.perm_id:
                self._by_perm.pop(record.perm_id, None)
            record.perm_id = perm_id
            self._by_perm[perm_id] = record

    def set_order_id(self, record: OrderRecord, order_id: int) -> None:
        if order_id and record.order_id != order_id:
            if self._by_order_id.get(record.order_id) is record:
                del self._by_order_id[record.order_id]
            record.order_id = order_id
            self._by_order_id[order_id] = record

    def find(
        self, *, perm_id: int = 0, order_ref: str = "", order_id: int = 0
    ) -> OrderRecord | None:
        """Look a record up: permId first, then orderRef, then the session order id."""
        if perm_id and perm_id in self._by_perm:
            return self._by_perm[perm_id]
        if order_ref and order_ref in self._by_ref:
            return self._by_ref[order_ref]
        if order_id > 0:
            record = self._by_order_id.get(order_id)
            if record is not None and (not perm_id or not record.perm_id):
                return record
        return None

    def by_ref(self, order_ref: str) -> OrderRecord | None:
        return self._by_ref.get(order_ref)

    def by_order_id(self, order_id: int) -> OrderRecord | None:
        return self._by_order_id.get(order_id)

    def __iter__(self) -> Iterator[OrderRecord]:
        return iter(list(self._by_ref.values()))

    def __len__(self) -> int:
        return len(self._by_ref)

    def live(self) -> list[OrderRecord]:
        """Records not yet final: working, or their state unknown."""
        return [r for r in self._by_ref.values() if not r.terminal]

    def children_of(self, record: OrderRecord) -> list[OrderRecord]:
        return [r for r in self._by_ref.values() if r.parent_ref == record.order_ref]

    def pending_cancels(self) -> list[OrderRecord]:
        return [r for r in self._by_ref.values() if r.cancel_pending and not r.terminal]

    def note_exec(self, exec_id: str) -> bool:
        """Remember an execution id; False if it was seen before (a duplicate)."""
        if exec_id in self.seen_exec_ids:
            return False
        self.seen_exec_ids.add(exec_id)
        return True

    def note_commission(self, exec_id: str) -> bool:
        if exec_id in self.seen_commission_ids:
            return False
        self.seen_commission_ids.add(exec_id)
        return True

    def mark_seen(self, exec_ids: Iterable[str]) -> None:
        self.seen_exec_ids.update(exec_ids)
