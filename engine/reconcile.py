"""Reconciliation: compare the engine's book with the broker's view and name every difference."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.broker import AccountSnapshot, BrokerOrder, BrokerPosition, parse_order_ref
from contracts.enums import BrokerOrderStatus, DriftSeverity, DriftType, LifecycleState, OrderLeg
from engine.book import Book, OrderRecord

OPEN_AT_BROKER = frozenset(
    {BrokerOrderStatus.PENDING_SUBMIT, BrokerOrderStatus.WORKING, BrokerOrderStatus.PENDING_CANCEL}
)
ENGINE_WORKING = frozenset({LifecycleState.SUBMITTED, LifecycleState.STALLED})
PRICE_TOLERANCE = Decimal("0.005")
"""Average prices may differ by commission folded into the broker's average cost."""
PNL_TOLERANCE = Decimal("1.00")


@dataclass(frozen=True)
class Difference:
    drift_type: DriftType
    subject: str
    engine_state: dict[str, str]
    broker_state: dict[str, str]
    severity: DriftSeverity

    @property
    def key(self) -> tuple[str, str]:
        return (self.drift_type.value, self.subject)

    @property
    def fingerprint(self) -> tuple[str, str, str, str]:
        """Same key and same values on both sides: the same drift, seen again."""
        return (
            self.drift_type.value,
            self.subject,
            repr(sorted(self.engine_state.items())),
            repr(sorted(self.broker_state.items())),
        )


def compare(
    book: Book,
    positions: list[BrokerPosition],
    open_orders: list[BrokerOrder],
    account: AccountSnapshot | None = None,
) -> list[Difference]:
    """Every disagreement between the book and the broker, most severe first."""
    found: list[Difference] = []
    found += _positions(book, positions)
    found += _orders(book, open_orders)
    if account is not None and account.realized_pnl is not None:
        gross = book.realized_today + book.commissions_today
        diff = abs(gross - account.realized_pnl)
        if diff > PNL_TOLERANCE and diff > abs(account.realized_pnl) * Decimal("0.02"):
            found.append(
                Difference(
                    DriftType.PNL_MISMATCH,
                    "realized P&L",
                    {"realized": f"{gross:.2f}"},
                    {"realized": f"{account.realized_pnl:.2f}"},
                    DriftSeverity.LOW,
                )
            )
    order = {DriftSeverity.CRITICAL: 0, DriftSeverity.HIGH: 1, DriftSeverity.LOW: 2}
    return sorted(found, key=lambda d: order[d.severity])


def _positions(book: Book, positions: list[BrokerPosition]) -> list[Difference]:
    broker = {p.instrument.symbol: p for p in positions if p.quantity != 0}
    engine = {s: p for s, p in book.positions.items() if p.quantity != 0}
    out = []
    for symbol in sorted(set(broker) | set(engine)):
        b, e = broker.get(symbol), engine.get(symbol)
        bq = b.quantity if b else Decimal(0)
        eq = e.quantity if e else Decimal(0)
        if bq != eq:
            ratio = book.entry_fill_ratio.get(symbol)
            engine_state = {"quantity": str(eq)}
            if ratio is not None:
                engine_state["fill_ratio"] = f"{ratio * 100:.0f}%"
            out.append(
                Difference(
                    DriftType.POSITION_SIZE,
                    symbol,
                    engine_state,
                    {"quantity": str(bq)},
                    DriftSeverity.CRITICAL,
                )
            )
        elif b and e and e.avg_price and b.avg_cost:
            off = abs(b.avg_cost - e.avg_price) / e.avg_price
            if off > PRICE_TOLERANCE:
                out.append(
                    Difference(
                        DriftType.POSITION_SIZE,
                        symbol,
                        {"quantity": str(eq), "avg_price": f"{e.avg_price:.4f}"},
                        {"quantity": str(bq), "avg_price": f"{b.avg_cost:.4f}"},
                        DriftSeverity.LOW,
                    )
                )
    return out


def _orders(book: Book, open_orders: list[BrokerOrder]) -> list[Difference]:
    out = []
    at_broker = {o.order_ref: o for o in open_orders if o.status in OPEN_AT_BROKER}
    for ref, order in sorted(at_broker.items()):
        parsed = parse_order_ref(ref)
        rec = book.records.get(parsed[0]) if parsed else None
        if parsed is None or rec is None:
            out.append(
                Difference(
                    DriftType.FOREIGN_ORDER,
                    ref or f"perm:{order.perm_id}",
                    {"known": "no"},
                    _broker_order_state(order),
                    DriftSeverity.HIGH,
                )
            )
            continue
        _, leg = parsed
        if leg in (OrderLeg.ENTRY, OrderLeg.FLATTEN):
            if rec.state not in ENGINE_WORKING:
                out.append(
                    Difference(
                        DriftType.STATUS_MISMATCH,
                        ref,
                        {"state": rec.state.value},
                        _broker_order_state(order),
                        DriftSeverity.HIGH,
                    )
                )
            elif order.filled != rec.entry_filled:
                out.append(
                    Difference(
                        DriftType.FILL_MISMATCH,
                        ref,
                        {
                            "filled": str(rec.entry_filled),
                            "ratio": _ratio(rec.entry_filled, rec.requested),
                        },
                        {
                            "filled": str(order.filled),
                            "ratio": _ratio(order.filled, order.quantity),
                        },
                        DriftSeverity.HIGH,
                    )
                )
        elif not _exits_may_work(rec):
            out.append(
                Difference(
                    DriftType.STATUS_MISMATCH,
                    ref,
                    {"state": rec.state.value},
                    _broker_order_state(order),
                    DriftSeverity.HIGH,
                )
            )
    for rec in book.live.values():
        order_ref = rec.order_ref
        if (
            rec.state in ENGINE_WORKING
            and rec.acked_at is not None
            and order_ref
            and order_ref not in at_broker
        ):
            out.append(
                Difference(
                    DriftType.ORDER_MISSING_AT_BROKER,
                    order_ref,
                    {"state": rec.state.value, "filled": str(rec.entry_filled)},
                    {"status": "not working"},
                    DriftSeverity.HIGH,
                )
            )
    return out


def _exits_may_work(rec: OrderRecord) -> bool:
    """Bracket exits live at the broker from submission: held while the entry works,
    active once it filled, and kept (shrunk to the filled part) when a partial entry was
    cancelled."""
    if rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED, LifecycleState.MANAGED):
        return True
    return rec.state is LifecycleState.CANCELLED and rec.entry_filled > 0


def _ratio(filled: Decimal, requested: Decimal) -> str:
    return f"{(filled / requested * 100):.0f}%" if requested else "-"


def _broker_order_state(order: BrokerOrder) -> dict[str, str]:
    return {
        "status": order.status.value,
        "side": order.side.value,
        "quantity": str(order.quantity),
        "filled": str(order.filled),
        "symbol": order.instrument.symbol,
    }
