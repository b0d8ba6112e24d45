"""Instrument/order conversion to ib_async objects, and back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from ib_async import (
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    Fill,
    Order,
    OrderState,
    OrderStatus,
    Position,
    Trade,
)

from broker.ibkr import convert, mapping
from contracts.broker import OrderRequest, order_ref_for
from contracts.enums import BrokerOrderStatus, OrderLeg, OrderType, Side, TimeInForce
from contracts.intent import Instrument


def _request(**kwargs: object) -> OrderRequest:
    base: dict[str, object] = {
        "order_ref": order_ref_for("i42"),
        "instrument": Instrument(symbol="AAPL", primary_exchange="NASDAQ"),
        "side": Side.BUY,
        "quantity": Decimal(100),
        "order_type": OrderType.LIMIT,
        "limit_price": Decimal("190.25"),
    }
    base.update(kwargs)
    return OrderRequest.model_validate(base)


def test_stock_contract_is_explicit() -> None:
    c = convert.instrument_to_contract(Instrument(symbol="AAPL", primary_exchange="NASDAQ"))
    assert (c.secType, c.symbol, c.exchange, c.currency, c.primaryExchange) == (
        "STK",
        "AAPL",
        "SMART",
        "USD",
        "NASDAQ",
    )
    assert c.multiplier == ""


def test_cash_pair_contract() -> None:
    c = convert.instrument_to_contract(Instrument(symbol="EUR.USD", sec_type="CASH"))
    assert (c.secType, c.symbol, c.currency, c.exchange) == ("CASH", "EUR", "USD", "IDEALPRO")


def test_future_contract_uses_the_local_symbol() -> None:
    c = convert.instrument_to_contract(
        Instrument(symbol="ESZ6", sec_type="FUT", exchange="CME", multiplier=Decimal(50))
    )
    assert (c.secType, c.localSymbol, c.exchange, c.multiplier) == ("FUT", "ESZ6", "CME", "50")


def test_contract_round_trip() -> None:
    inst = Instrument(symbol="MSFT", primary_exchange="NASDAQ")
    back = convert.contract_to_instrument(convert.instrument_to_contract(inst))
    assert back is not None
    assert (back.symbol, back.sec_type, back.exchange, back.currency) == (
        "MSFT",
        "STK",
        "SMART",
        "USD",
    )


def test_unrepresentable_contract_gives_none() -> None:
    assert convert.contract_to_instrument(Contract(secType="BAG", symbol="SPREAD")) is None


def test_single_limit_order() -> None:
    req = _request(tif=TimeInForce.GTC)
    (leg,) = convert.request_to_orders(req, [501], "DU1")
    o = leg.order
    assert leg.leg is OrderLeg.ENTRY
    assert (o.orderId, o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.tif) == (
        501,
        "BUY",
        100.0,
        "LMT",
        190.25,
        "GTC",
    )
    assert o.orderRef == req.order_ref
    assert o.account == "DU1"
    assert o.transmit is True
    assert o.parentId == 0


@pytest.mark.parametrize(
    ("kind", "limit", "stop", "lmt", "aux"),
    [
        (OrderType.MARKET, None, None, None, None),
        (OrderType.STOP, None, Decimal("180"), None, 180.0),
        (OrderType.STOP_LIMIT, Decimal("179.5"), Decimal("180"), 179.5, 180.0),
    ],
)
def test_order_types_and_prices(
    kind: OrderType,
    limit: Decimal | None,
    stop: Decimal | None,
    lmt: float | None,
    aux: float | None,
) -> None:
    req = _request(order_type=kind, limit_price=limit, stop_price=stop)
    (leg,) = convert.request_to_orders(req, [7], "DU1")
    assert leg.order.orderType == kind.value
    if lmt is not None:
        assert leg.order.lmtPrice == lmt
    if aux is not None:
        assert leg.order.auxPrice == aux


def test_bracket_is_built_the_ib_way() -> None:
    req = _request(stop_loss=Decimal("188.00"), take_profit=Decimal("195.00"))
    assert convert.legs_needed(req) == 3
    parent, tp, sl = convert.request_to_orders(req, [10, 11, 12], "DU1")
    assert [leg.leg for leg in (parent, tp, sl)] == [
        OrderLeg.ENTRY,
        OrderLeg.TAKE_PROFIT,
        OrderLeg.STOP_LOSS,
    ]
    assert parent.order.transmit is False
    assert tp.order.transmit is False
    assert sl.order.transmit is True  # the last child releases the bracket
    assert tp.order.parentId == sl.order.parentId == parent.order.orderId == 10
    assert tp.order.ocaGroup == sl.order.ocaGroup != ""
    assert tp.order.orderRef == order_ref_for("i42", OrderLeg.TAKE_PROFIT)
    assert sl.order.orderRef == order_ref_for("i42", OrderLeg.STOP_LOSS)
    assert (tp.order.action, tp.order.orderType, tp.order.lmtPrice) == ("SELL", "LMT", 195.0)
    assert (sl.order.action, sl.order.orderType, sl.order.auxPrice) == ("SELL", "STP", 188.0)
    assert all(leg.order.account == "DU1" for leg in (parent, tp, sl))
    assert all(leg.order.totalQuantity == 100.0 for leg in (parent, tp, sl))


def test_stop_only_bracket_transmits_its_single_child() -> None:
    req = _request(side=Side.SELL, limit_price=Decimal("190"), stop_loss=Decimal("195"))
    parent, sl = convert.request_to_orders(req, [1, 2], "DU1")
    assert (parent.order.transmit, sl.order.transmit) == (False, True)
    assert sl.order.action == "BUY"


def test_bracket_needs_an_intent_order_ref() -> None:
    req = _request(order_ref="free-text", stop_loss=Decimal("188"))
    with pytest.raises(ValueError, match="order_ref_for"):
        convert.request_to_orders(req, [1, 2], "DU1")


def test_wrong_number_of_ids_is_refused() -> None:
    with pytest.raises(ValueError):
        convert.request_to_orders(_request(), [1, 2], "DU1")


def test_trade_to_order() -> None:
    trade = Trade(
        contract=Contract(secType="STK", symbol="AAPL", exchange="SMART", currency="USD"),
        order=Order(
            orderId=5,
            permId=99,
            action="BUY",
            totalQuantity=100.0,
            orderType="LMT",
            lmtPrice=190.0,
            orderRef="dg:i1:ENTRY",
        ),
        orderStatus=OrderStatus(orderId=5, status="Submitted", filled=40.0, remaining=60.0),
    )
    bo = convert.trade_to_order(trade)
    assert bo is not None
    assert (bo.order_ref, bo.broker_order_id, bo.perm_id, bo.status) == (
        "dg:i1:ENTRY",
        5,
        99,
        BrokerOrderStatus.WORKING,
    )
    assert (bo.quantity, bo.filled, bo.remaining) == (Decimal(100), Decimal(40), Decimal(60))
    assert bo.limit_price == Decimal("190.0")
    assert bo.stop_price is None  # UNSET_DOUBLE


def test_trade_without_status_counts_remaining_from_quantity() -> None:
    trade = Trade(
        contract=Contract(secType="STK", symbol="AAPL", exchange="SMART", currency="USD"),
        order=Order(orderId=5, permId=9, action="SELL", totalQuantity=10.0, orderType="MKT"),
        orderStatus=OrderStatus(orderId=5, status="PreSubmitted"),
    )
    bo = convert.trade_to_order(trade)
    assert bo is not None and bo.remaining == Decimal(10)


def test_fill_to_execution() -> None:
    ts = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    fill = Fill(
        contract=Contract(secType="STK", symbol="AAPL"),
        execution=Execution(
            execId="0001.01",
            time=ts,
            side="BOT",
            shares=40.0,
            price=190.01,
            permId=99,
            cumQty=40.0,
            orderRef="dg:i1:ENTRY",
        ),
        commissionReport=CommissionReport(execId="0001.01", commission=1.0),
        time=ts,
    )
    ex = convert.fill_to_execution(fill)
    assert ex is not None
    assert (ex.exec_id, ex.side, ex.quantity, ex.price, ex.perm_id, ex.symbol) == (
        "0001.01",
        Side.BUY,
        Decimal(40),
        Decimal("190.01"),
        99,
        "AAPL",
    )
    assert ex.commission == Decimal(1)
    assert ex.time == ts


def test_position_conversion() -> None:
    pos = Position(
        account="DU1",
        contract=Contract(secType="STK", symbol="AAPL", exchange="NASDAQ", currency="USD"),
        position=-25.0,
        avgCost=190.5,
    )
    bp = convert.position_to_broker(pos)
    assert bp is not None
    assert (bp.account, bp.quantity, bp.avg_cost) == ("DU1", Decimal(-25), Decimal("190.5"))


def test_a_future_with_an_expiry_maps_both_ways() -> None:
    mes = Instrument(
        symbol="MES",
        sec_type="FUT",
        exchange="CME",
        multiplier=Decimal(5),
        con_id=495512563,
        expiry="20261218",
        trading_class="MES",
    )
    c = convert.instrument_to_contract(mes)
    assert (c.secType, c.symbol, c.localSymbol, c.lastTradeDateOrContractMonth) == (
        "FUT",
        "MES",
        "",
        "20261218",
    )
    assert (c.exchange, c.tradingClass, c.multiplier, c.conId) == ("CME", "MES", "5", 495512563)
    c.localSymbol = "MESZ6"  # as the broker sends it back
    back = convert.contract_to_instrument(c)
    assert back is not None
    assert (back.symbol, back.expiry, back.trading_class, back.con_id, back.multiplier) == (
        "MES",
        "20261218",
        "MES",
        495512563,
        5,
    )


def test_a_future_without_expiry_asks_for_every_listed_expiry() -> None:
    q = convert.details_query(Instrument(symbol="MES", sec_type="FUT", exchange="CME"))
    assert (q.secType, q.symbol, q.lastTradeDateOrContractMonth, q.localSymbol) == (
        "FUT",
        "MES",
        "",
        "",
    )


def test_contract_details_become_contract_facts() -> None:
    details = ContractDetails(
        contract=Contract(
            secType="FUT",
            conId=7,
            symbol="MES",
            lastTradeDateOrContractMonth="20261218",
            multiplier="5",
            exchange="CME",
            currency="USD",
            tradingClass="MES",
        ),
        minTick=0.25,
        priceMagnifier=1,
        realExpirationDate="20261218",
        longName="Micro E-Mini S&P 500",
    )
    facts = convert.details_to_facts(details)
    assert facts is not None
    assert (facts.multiplier, facts.min_tick, facts.expiry) == (
        5,
        Decimal("0.25"),
        date(2026, 12, 18),
    )
    details.minTick = float("nan")
    assert convert.details_to_facts(details) is None  # never a fact without a tick


def test_a_what_if_state_becomes_a_margin_preview_and_unset_means_none() -> None:
    state = OrderState(
        initMarginChange="2475.0",
        maintMarginChange="2250.0",
        equityWithLoanAfter="99999.38",
        commission=0.62,
        commissionCurrency="USD",
    )
    preview = convert.order_state_to_preview(state)
    assert preview is not None
    assert (preview.init_margin_change, preview.commission) == (Decimal("2475.0"), Decimal("0.62"))
    state.initMarginChange = "1.7976931348623157E308"
    assert convert.order_state_to_preview(state) is None


def test_bar_sizes_and_ib_dates() -> None:
    assert [mapping.bar_seconds(s) for s in ("5 secs", "1 min", "15 mins", "1 day")] == [
        5,
        60,
        900,
        86_400,
    ]
    with pytest.raises(ValueError):
        mapping.bar_seconds("3 fortnights")
    assert mapping.ib_date("20261218") == date(2026, 12, 18)
    assert mapping.ib_date("202612") is None and mapping.ib_date("20261340") is None
