"""The fill journal and the slippage reconciler: what each fill cost against what was intended.

Slippage is signed so that positive is worse for the trader: a buy filled above, or a sell filled
below, its reference. The reference is the decision's price (the limit or stop of the entry, the
bracket level of an exit) and, beside it, the touch when the order left (ask for a buy, bid for a
sell). Market orders have no decision price: the touch is their reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from contracts.broker import Quote, parse_order_ref
from contracts.enums import OrderLeg, Side
from contracts.events import (
    AuditedEvent,
    CommissionRecorded,
    ContractResolved,
    FillRecorded,
    IntentReceived,
    OrderAcknowledged,
    OrderSubmitting,
)
from contracts.intent import Intent


@dataclass(frozen=True)
class FillJournalRow:
    """One fill with everything needed to judge its execution."""

    ts: datetime
    intent_id: str
    strategy: str
    style: str
    symbol: str
    leg: OrderLeg
    side: Side
    quantity: Decimal
    price: Decimal
    decision_price: Decimal | None
    touch_at_send: Decimal | None
    slippage_ticks: Decimal | None
    """Against the decision price, else the touch; positive = worse for the trader."""
    slippage_usd: Decimal | None
    intent_to_submit_ms: float | None
    submit_to_ack_ms: float | None
    ack_to_fill_ms: float | None
    commission: Decimal | None


@dataclass
class _OrderTrail:
    intent: Intent
    received: datetime
    submitted: dict[OrderLeg, tuple[datetime, Quote | None, Decimal | None]]
    acked: dict[str, datetime]


def _leg_price(submit: OrderSubmitting) -> Decimal | None:
    request = submit.request
    return request.limit_price or request.stop_price


def _touch(quote: Quote | None, side: Side) -> Decimal | None:
    if quote is None:
        return None
    return quote.ask if side is Side.BUY else quote.bid


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() * 1000.0


def fill_journal(
    events: Iterable[AuditedEvent],
    *,
    contract_facts: Mapping[str, tuple[Decimal, Decimal]] | None = None,
    since: datetime | None = None,
) -> list[FillJournalRow]:
    """Build the journal from audited events (in store order).

    Args:
        events: the audit store's events, oldest first.
        contract_facts: symbol -> (min tick, multiplier) from the instrument master; without an
            entry the intent's own instrument fields are used (they were checked at proposal).
        since: only fills at or after this time.
    """
    facts = contract_facts or {}
    orders: dict[str, _OrderTrail] = {}
    commissions: dict[str, Decimal] = {}
    resolved: dict[str, tuple[Decimal, Decimal]] = {}
    fills: list[FillRecorded] = []
    for event in events:
        match event:
            case IntentReceived(intent=intent):
                orders[intent.intent_id] = _OrderTrail(intent, event.ts_event, {}, {})
            case ContractResolved(facts=master):
                resolved.setdefault(master.symbol, (master.min_tick, master.multiplier))
            case OrderSubmitting(intent_id=iid, request=request) if iid in orders:
                parsed = parse_order_ref(request.order_ref)
                leg = parsed[1] if parsed else OrderLeg.ENTRY
                orders[iid].submitted[leg] = (event.ts_event, event.quote, _leg_price(event))
            case OrderAcknowledged(intent_id=iid, order_ref=ref) if iid in orders:
                orders[iid].acked.setdefault(ref, event.ts_event)
            case FillRecorded():
                fills.append(event)
            case CommissionRecorded(exec_id=exec_id, commission=commission):
                commissions[exec_id] = commissions.get(exec_id, Decimal(0)) + commission
    rows: list[FillJournalRow] = []
    for fill in fills:
        if since is not None and fill.ts_event < since:
            continue
        order = orders.get(fill.intent_id)
        if order is None:
            continue
        instrument = order.intent.order.instrument
        stated = (instrument.tick_size or Decimal("0.01"), instrument.multiplier or Decimal(1))
        tick, multiplier = facts.get(fill.symbol) or resolved.get(fill.symbol, stated)
        sent_at, quote, decision = order.submitted.get(
            fill.leg, order.submitted.get(OrderLeg.ENTRY, (None, None, None))
        )
        if fill.leg is OrderLeg.ENTRY and decision is None:
            decision = order.intent.order.limit_price or order.intent.order.stop_price
        touch = _touch(quote, fill.side)
        reference = decision if decision is not None else touch
        ticks = usd = None
        if reference is not None:
            worse = fill.price - reference if fill.side is Side.BUY else reference - fill.price
            ticks = (worse / tick).quantize(Decimal("0.01"))
            usd = worse * fill.quantity * multiplier
        acked_at = order.acked.get(fill.order_ref)
        rows.append(
            FillJournalRow(
                ts=fill.ts_event,
                intent_id=fill.intent_id,
                strategy=order.intent.strategy,
                style=order.intent.order.execution.kind,
                symbol=fill.symbol,
                leg=fill.leg,
                side=fill.side,
                quantity=fill.quantity,
                price=fill.price,
                decision_price=decision,
                touch_at_send=touch,
                slippage_ticks=ticks,
                slippage_usd=usd,
                intent_to_submit_ms=_ms(order.received, sent_at)
                if fill.leg is OrderLeg.ENTRY
                else None,
                submit_to_ack_ms=_ms(sent_at, acked_at),
                ack_to_fill_ms=_ms(acked_at, fill.ts_event),
                commission=commissions.get(fill.exec_id),
            )
        )
    return rows


@dataclass(frozen=True)
class SlippageDrift:
    """Observed slippage against the model for one symbol and execution style."""

    symbol: str
    style: str
    fills: int
    observed_mean_ticks: Decimal
    modelled_ticks: Decimal
    drifted: bool


def reconcile_slippage(
    rows: Iterable[FillJournalRow],
    modelled_ticks: Mapping[str, Decimal],
    *,
    bound_ticks: Decimal = Decimal("1"),
    min_fills: int = 5,
) -> list[SlippageDrift]:
    """Compare the slippage the sim/backtest models with what fills show, per symbol and style.

    Args:
        rows: the fill journal (entries only are judged: exits fill at bracket levels).
        modelled_ticks: "SYMBOL" or "SYMBOL/style" -> modelled mean slippage in ticks; "*" is
            the default for everything else.
        bound_ticks: a mean further than this from the model is flagged.
        min_fills: fewer fills than this are reported but never flagged (too few to judge).
    """
    groups: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for row in rows:
        if row.leg is OrderLeg.ENTRY and row.slippage_ticks is not None:
            groups[(row.symbol, row.style)].append(row.slippage_ticks)
    out: list[SlippageDrift] = []
    for (symbol, style), ticks in sorted(groups.items()):
        model = modelled_ticks.get(
            f"{symbol}/{style}", modelled_ticks.get(symbol, modelled_ticks.get("*", Decimal(0)))
        )
        mean = (sum(ticks, Decimal(0)) / len(ticks)).quantize(Decimal("0.01"))
        drifted = len(ticks) >= min_fills and abs(mean - model) > bound_ticks
        out.append(SlippageDrift(symbol, style, len(ticks), mean, model, drifted))
    return out
