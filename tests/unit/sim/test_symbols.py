"""The venue's symbol table: contract details for stocks and futures, expiries, futures P&L."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from broker.sim import SimBroker, SimVenue
from broker.sim.ledger import commission_for
from broker.sim.symbols import DEFAULT_SYMBOLS, quarterly_expiries, third_friday
from contracts.enums import Side
from contracts.intent import Instrument
from tests.unit.sim.helpers import ACCOUNT, spec

MES = Instrument(symbol="MES", sec_type="FUT", exchange="CME")


def test_third_friday_and_quarterly_expiries() -> None:
    assert third_friday(2026, 12) == date(2026, 12, 18)
    assert third_friday(2027, 3) == date(2027, 3, 19)
    assert quarterly_expiries(date(2026, 12, 18), 2) == [date(2026, 12, 18), date(2027, 3, 19)]
    assert quarterly_expiries(date(2026, 12, 19), 1) == [date(2027, 3, 19)]


async def test_future_without_expiry_lists_every_expiry_front_month_first() -> None:
    broker = SimBroker(SimVenue(1))  # the venue's clock starts 2026-11-23
    facts = await broker.contract_details(MES)
    assert [f.expiry for f in facts] == [
        date(2026, 12, 18),
        date(2027, 3, 19),
        date(2027, 6, 18),
        date(2027, 9, 17),
    ]
    front = facts[0]
    assert (front.multiplier, front.min_tick) == (Decimal(5), Decimal("0.25"))
    assert front.exchange == "CME"
    assert front.sec_type == "FUT" and front.trading_class == "MES" and front.currency == "USD"
    assert len({f.con_id for f in facts}) == 4


async def test_future_by_month_by_date_and_by_con_id_agree() -> None:
    broker = SimBroker(SimVenue(1))
    [by_month] = await broker.contract_details(MES.model_copy(update={"expiry": "202612"}))
    [by_date] = await broker.contract_details(MES.model_copy(update={"expiry": "20261218"}))
    [by_id] = await broker.contract_details(Instrument(symbol="MES", con_id=by_month.con_id))
    assert by_month == by_date == by_id
    again = await SimBroker(SimVenue(99)).contract_details(MES)
    assert again[0].con_id == by_month.con_id  # conIds are stable


async def test_multipliers_of_every_future_and_unknowns_are_empty() -> None:
    broker = SimBroker(SimVenue(1))
    expected = {"MES": 5, "ES": 50, "MNQ": 2, "NQ": 20}
    for symbol, multiplier in expected.items():
        facts = await broker.contract_details(
            Instrument(symbol=symbol, sec_type="FUT", exchange="CME")
        )
        assert {f.multiplier for f in facts} == {Decimal(multiplier)}
        assert {f.min_tick for f in facts} == {Decimal("0.25")}
    assert await broker.contract_details(Instrument(symbol="ZZZZ")) == []
    assert await broker.contract_details(Instrument(symbol="MES")) == []  # MES is not a stock
    assert await broker.contract_details(MES.model_copy(update={"expiry": "202501"})) == []
    assert await broker.contract_details(Instrument(symbol="X", con_id=123)) == []
    assert await broker.contract_details(MES.model_copy(update={"exchange": "NYSE"})) == []


async def test_stock_details_come_from_the_same_table() -> None:
    broker = SimBroker(SimVenue(1))
    [aapl] = await broker.contract_details(Instrument(symbol="AAPL"))
    table = next(s for s in DEFAULT_SYMBOLS if s.symbol == "AAPL")
    assert aapl.con_id == table.con_id and aapl.expiry is None
    assert aapl.min_tick == Decimal("0.01") and aapl.multiplier == 1
    assert aapl.primary_exchange == "NASDAQ"


def test_futures_fill_moves_pnl_by_the_multiplier_and_no_cash() -> None:
    venue = SimVenue(1)
    venue.set_price("MES", Decimal("5900.00"), Decimal("5900.25"))
    venue.submit(spec(Side.BUY, 2, symbol="MES"))
    acct = venue.account(ACCOUNT)
    fee = commission_for(Decimal(2), Decimal("5900.25"), venue.spec("MES"))
    assert fee == Decimal("1.24")
    assert acct.cash == Decimal(100000) - fee
    assert acct.init_margin == 2 * Decimal(2475)
    venue.set_price("MES", Decimal("5903.25"), Decimal("5903.50"))
    assert venue.account(ACCOUNT).unrealized_pnl == 2 * Decimal("3.00") * 5
    venue.submit(spec(Side.SELL, 2, symbol="MES"))
    acct = venue.account(ACCOUNT)
    assert acct.realized_pnl == 2 * Decimal("3.00") * 5  # 12 ticks x $1.25 x 2
    assert acct.cash == Decimal(100000) + Decimal(30) - 2 * fee


def test_futures_quantity_must_be_whole_contracts() -> None:
    venue = SimVenue(1)
    order = venue.submit(spec(Side.BUY, "1.5", symbol="MES"))
    assert order.status.value == "REJECTED"


async def test_a_stock_trades_on_any_stock_exchange_never_on_a_futures_one() -> None:
    broker = SimBroker(SimVenue(1))
    [island] = await broker.contract_details(Instrument(symbol="AAPL", exchange="ISLAND"))
    assert island.symbol == "AAPL"
    assert await broker.contract_details(Instrument(symbol="AAPL", exchange="CME")) == []
