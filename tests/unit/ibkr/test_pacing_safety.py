"""Outbound pacing, the reconnect policy, port/account safety, the account and order books."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from broker.ibkr import IbkrBroker
from broker.ibkr.account import AccountBook
from broker.ibkr.orders import OrderBook, OrderRecord
from broker.ibkr.pacing import OutboundPacer, ReconnectPolicy
from broker.ibkr.safety import BrokerRefused, check_port, choose_account, mask_account
from contracts.enums import OrderType, Side
from contracts.intent import Instrument

# --- pacer ------------------------------------------------------------------------------


def _max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


async def test_pacer_keeps_to_the_window() -> None:
    pacer = OutboundPacer(max_per_window=5, window_s=0.05)
    grants: list[float] = []

    async def one() -> None:
        await pacer.acquire()
        grants.append(time.monotonic())

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(20))), 5)
    assert len(grants) == 20
    assert _max_in_window(grants, 0.049) <= 5


async def test_pacer_grants_a_bracket_together() -> None:
    pacer = OutboundPacer(max_per_window=4, window_s=0.05)
    await pacer.acquire(3)
    started = time.monotonic()
    await pacer.acquire(3)  # does not fit until the first three leave the window
    assert time.monotonic() - started >= 0.04


async def test_urgent_requests_jump_the_queue() -> None:
    pacer = OutboundPacer(max_per_window=2, window_s=0.05)
    order: list[str] = []
    await pacer.acquire(2)

    async def req(name: str, urgent: bool) -> None:
        await pacer.acquire(urgent=urgent)
        order.append(name)

    normal = [asyncio.create_task(req(f"order{i}", False)) for i in range(4)]
    await asyncio.sleep(0)
    cancel = asyncio.create_task(req("cancel", True))
    await asyncio.wait_for(asyncio.gather(*normal, cancel), 5)
    assert order.index("cancel") <= 1


@pytest.mark.parametrize("rate", [0, 47, 50])
def test_pacer_refuses_more_than_46_per_second(rate: int) -> None:
    with pytest.raises(ValueError):
        OutboundPacer.per_second(rate)
    with pytest.raises(ValueError):
        IbkrBroker(max_messages_per_second=rate)


# --- reconnect policy ---------------------------------------------------------------------


def test_backoff_doubles_to_a_cap() -> None:
    policy = ReconnectPolicy(base_delay_s=1, max_delay_s=30)
    assert [policy.next_delay(n, now=0) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_client_id_in_use_waits_long() -> None:
    policy = ReconnectPolicy(client_id_in_use_delay_s=15)
    assert policy.next_delay(1, now=0, client_id_in_use=True) == 15


def test_no_more_than_six_attempts_a_minute() -> None:
    policy = ReconnectPolicy(base_delay_s=0.001, max_delay_s=0.001)
    now = 0.0
    for _ in range(30):
        now += policy.next_delay(3, now)
        policy.record_attempt(now)
        assert policy.attempts_in_last_minute(now) <= 6
    assert now >= 4 * 60 - 1  # 30 attempts took at least four minutes


def test_policy_refuses_a_tight_budget() -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(max_attempts_per_minute=10)


# --- safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize("port", [4001, 7496])
def test_live_ports_need_confirmation(port: int) -> None:
    with pytest.raises(BrokerRefused, match="LIVE"):
        check_port(port, None)
    check_port(port, "U1234567")


@pytest.mark.parametrize("port", [4002, 7497, 0, 55555])
def test_paper_and_other_ports_pass_the_port_check(port: int) -> None:
    check_port(port, None)


def test_paper_session_needs_a_du_account() -> None:
    assert choose_account(["DU123"], None, None) == "DU123"
    with pytest.raises(BrokerRefused, match="paper"):
        choose_account(["U123"], None, None)


def test_live_session_must_match_the_confirmed_account() -> None:
    assert choose_account(["U123"], None, "U123") == "U123"
    assert choose_account(["U999", "U123"], None, "U123") == "U123"
    with pytest.raises(BrokerRefused, match="does not match"):
        choose_account(["U999"], None, "U123")


def test_configured_account_must_be_managed() -> None:
    with pytest.raises(BrokerRefused):
        choose_account(["DU1"], "DU2", None)
    with pytest.raises(BrokerRefused, match="set `account`"):
        choose_account(["DU1", "DU2"], None, None)
    assert choose_account(["DU1", "DU2"], "DU2", None) == "DU2"


def test_refusal_messages_never_show_the_whole_account_id() -> None:
    with pytest.raises(BrokerRefused) as info:
        choose_account(["U7654321"], None, "U1234567")
    assert "U7654321" not in str(info.value)
    assert "U1234567" not in str(info.value)
    assert mask_account("U7654321") == "U765…21"


# --- account book -------------------------------------------------------------------------


def test_account_book_folds_rows_into_a_snapshot() -> None:
    book = AccountBook("DU1")
    rows = [
        ("NetLiquidation", "1040992.61", "GBP"),
        ("AvailableFunds", "1038472.36", "GBP"),
        ("BuyingPower", "4153889.44", "GBP"),
        ("TotalCashValue", "1038472.36", "GBP"),
        ("InitMarginReq", "0.00", "GBP"),
        ("MaintMarginReq", "0.00", "GBP"),
        ("Cushion", "1", ""),
        ("RealizedPnL", "12.50", "BASE"),
        ("RealizedPnL", "3.00", "GBP"),
        ("UnrealizedPnL", "-4.25", "BASE"),
        ("AccountType", "INDIVIDUAL", ""),
        ("TradingType-S", "STKNOPT", ""),
    ]
    assert any([book.update("DU1", *row) for row in rows])
    assert not book.update("DU2", "NetLiquidation", "1", "USD")  # another account
    assert not book.update("DU1", "NetLiquidation", "1040992.61", "GBP")  # unchanged
    snap = book.snapshot(datetime(2026, 1, 5, tzinfo=UTC))
    assert snap.currency == "GBP"
    assert snap.net_liquidation == Decimal("1040992.61")
    assert snap.buying_power == Decimal("4153889.44")
    assert snap.cushion == Decimal(1)
    assert snap.realized_pnl == Decimal("12.50")
    assert snap.unrealized_pnl == Decimal("-4.25")
    assert book.account_type == "INDIVIDUAL"
    assert book.permissions == {"TradingType-S": "STKNOPT"}


# --- order book ---------------------------------------------------------------------------


def _record(ref: str, order_id: int) -> OrderRecord:
    return OrderRecord(
        order_ref=ref,
        order_id=order_id,
        instrument=Instrument(symbol="AAPL"),
        side=Side.BUY,
        quantity=Decimal(10),
        order_type=OrderType.MARKET,
    )


def test_order_book_keys_on_perm_id_then_ref_then_order_id() -> None:
    book = OrderBook()
    rec = _record("dg:a:ENTRY", 5)
    book.add(rec)
    assert book.find(order_id=5) is rec
    book.set_perm_id(rec, 777)
    assert book.find(perm_id=777) is rec
    assert book.find(order_ref="dg:a:ENTRY") is rec
    # an order id reused in another session does not match a record with another permId
    assert book.find(perm_id=888, order_id=5) is None
    with pytest.raises(ValueError):
        book.add(_record("dg:a:ENTRY", 6))


def test_execution_ids_are_deduplicated() -> None:
    book = OrderBook()
    book.mark_seen(["e0"])
    assert not book.note_exec("e0")
    assert book.note_exec("e1")
    assert not book.note_exec("e1")
