"""Positions, realized/unrealized P&L, commissions, margin and the 201 margin rejection."""

from __future__ import annotations

from decimal import Decimal

from broker.sim import OrderEventKind, SimVenue, VenueOrderEvent
from broker.sim.ledger import Ledger, commission_for
from contracts.enums import Side
from tests.unit.sim.helpers import ACCOUNT, spec


def test_commission_is_ib_fixed_pricing() -> None:
    assert commission_for(Decimal(100), Decimal("50")) == Decimal("1.00")
    assert commission_for(Decimal(1000), Decimal("50")) == Decimal("5.00")
    assert commission_for(Decimal(1), Decimal("0.50")) == Decimal("0.01")


def test_ledger_long_round_trip_and_flip() -> None:
    ledger = Ledger("X", Decimal("10000"))
    assert ledger.apply_fill("A", Side.BUY, Decimal(10), Decimal("100"), Decimal(1)) is None
    assert ledger.apply_fill("A", Side.BUY, Decimal(10), Decimal("110"), Decimal(1)) is None
    pos = ledger.positions["A"]
    assert pos.quantity == 20 and pos.avg_cost == Decimal("105")
    realized = ledger.apply_fill("A", Side.SELL, Decimal(30), Decimal("120"), Decimal(1))
    assert realized == Decimal("300")  # 20 closed at +15
    assert pos.quantity == -10 and pos.avg_cost == Decimal("120")
    assert ledger.cash == Decimal("10000") - 1000 - 1100 + 3600 - 3
    state = ledger.state({"A": Decimal("125")})
    assert state.unrealized_pnl == Decimal("-50")
    assert state.net_liquidation == ledger.cash - 1250
    assert state.init_margin == Decimal("312.50")
    assert state.buying_power == (state.net_liquidation - state.init_margin) * 4


def test_venue_books_fills_into_the_account() -> None:
    venue = SimVenue(1)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.02"))
    venue.submit(spec(Side.BUY, 100))
    venue.set_price("AAPL", Decimal("101.00"), Decimal("101.02"))
    venue.submit(spec(Side.SELL, 60))
    [pos] = venue.positions(ACCOUNT)
    assert pos.quantity == 40
    assert pos.avg_cost == Decimal("100.02")
    acct = venue.account(ACCOUNT)
    assert acct.realized_pnl == (Decimal("101.00") - Decimal("100.02")) * 60
    assert acct.commissions == Decimal("2.00")
    expected_cash = Decimal("100000") - Decimal("10002") + Decimal("6060") - 2
    assert acct.cash == expected_cash
    assert acct.net_liquidation == expected_cash + 40 * Decimal("101.00")
    assert acct.unrealized_pnl == (Decimal("101.00") - Decimal("100.02")) * 40
    [first, second] = venue.executions(ACCOUNT)
    assert first.realized_pnl is None and second.realized_pnl == acct.realized_pnl


def test_order_beyond_margin_is_rejected_201() -> None:
    venue = SimVenue(1, starting_cash=Decimal("10000"))
    events: list[VenueOrderEvent] = []
    venue.subscribe(lambda e: events.append(e) if isinstance(e, VenueOrderEvent) else None)
    venue.set_price("AAPL", Decimal("100.00"), Decimal("100.01"))
    venue.submit(spec(Side.BUY, 500))  # 50k notional, 12.5k margin > 10k equity
    [rej] = [e for e in events if e.kind is OrderEventKind.REJECTED]
    assert rej.code == 201 and "INITIAL MARGIN" in rej.reason
    venue.submit(spec(Side.BUY, 300))  # 30k notional, 7.5k margin: fine
    assert venue.positions(ACCOUNT)[0].quantity == 300
