"""Attacks on contract facts: an intent's own multiplier, tick size or contract never sets risk."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from contracts.enums import DenialReason as R
from contracts.enums import OrderType
from contracts.intent import Instrument, Intent
from engine.clock import ManualClock
from engine.engine import Engine
from engine.intake import parse_intent
from tests.support import FakeBroker, config_with, make_intent, started_engine, stock_facts


def restated(intent: Intent, **instrument: object) -> Intent:
    """The intent as a strategy would send it over the socket, with these instrument fields."""
    data = json.loads(intent.model_dump_json())
    data["order"]["instrument"] = {"symbol": data["order"]["instrument"]["symbol"], **instrument}
    return parse_intent(json.dumps(data, default=str))


def reasons(result) -> set[R]:  # type: ignore[no-untyped-def]
    return {d.reason for d in result.denials}


async def test_a_tiny_multiplier_does_not_shrink_400_aapl_past_the_notional_cap(
    tmp_path: Path,
) -> None:
    engine, broker, clock = await started_engine(tmp_path, config_with(max_risk_per_trade=10**6))
    intent = restated(make_intent(clock, quantity=400), multiplier="0.000001")
    result = await engine.propose(intent)
    assert not result.accepted
    assert reasons(result) == {R.INSTRUMENT_MISMATCH}
    assert "multiplier 0.000001 (broker says 1)" in result.message
    assert broker.submits == []
    await engine.stop()


async def test_the_same_400_aapl_without_the_claim_is_valued_at_the_broker_multiplier(
    tmp_path: Path,
) -> None:
    engine, _, clock = await started_engine(tmp_path, config_with(max_risk_per_trade=10**6))
    result = await engine.propose(make_intent(clock, quantity=400))
    assert reasons(result) == {R.MAX_NOTIONAL}
    await engine.stop()


async def test_a_coarse_tick_size_does_not_hide_a_1000_tick_stop(tmp_path: Path) -> None:
    engine, _, clock = await started_engine(tmp_path)
    wide = make_intent(clock, quantity=1, limit="100.00", stop_loss="90.00")  # $10 at risk
    claimed = await engine.propose(restated(wide, tick_size="10"))
    assert reasons(claimed) == {R.INSTRUMENT_MISMATCH}
    assert "tick_size 10 (broker says 0.01)" in claimed.message
    unclaimed = await engine.propose(make_intent(clock, quantity=1, stop_loss="90.00"))
    assert reasons(unclaimed) == {R.STOP_DISTANCE}
    assert "1000 ticks" in unclaimed.message
    await engine.stop()


async def test_a_future_is_valued_at_its_broker_multiplier_not_one(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = FakeBroker(clock)
    broker.contracts["ES"] = stock_facts(
        "ES",
        con_id=495512563,
        sec_type="FUT",
        exchange="CME",
        multiplier=Decimal(50),
        min_tick=Decimal("0.25"),
        expiry=date(2026, 12, 18),
        trading_class="ES",
    )
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    await engine.watch_quote(Instrument(symbol="ES"))  # the fake answers 100: replace it
    broker.quote("ES", "4999.75", "5000.25")
    es = make_intent(clock, quantity=1, limit="5000.00", stop_loss="4999.00", symbol="ES")
    result = await engine.propose(restated(es, sec_type="FUT", exchange="CME", expiry="202612"))
    # 1 ES at 5000 is $250,000 of notional and $50 at risk: both over the defaults.
    assert reasons(result) == {R.MAX_NOTIONAL, R.MAX_RISK_PER_TRADE}
    assert "$250,000.00" in result.message
    await engine.stop()


async def test_the_order_that_leaves_carries_the_broker_facts(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    intent = make_intent(clock)
    assert (await engine.propose(intent)).accepted
    assert (await engine.approve(intent.intent_id, engine.pending_token(intent.intent_id) or "")).ok
    sent = broker.submits[0].instrument
    facts = broker.contracts["AAPL"]
    assert (sent.con_id, sent.multiplier, sent.tick_size) == (facts.con_id, 1, Decimal("0.01"))
    await engine.stop()


async def test_an_instrument_the_broker_does_not_know_is_refused(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    broker.unknown_symbols.add("NOPE")
    result = await engine.propose(make_intent(clock, symbol="NOPE"))
    assert reasons(result) == {R.UNKNOWN_INSTRUMENT}
    assert "NOPE STK SMART unknown to fake" in result.message
    await engine.stop()


async def test_a_broker_that_cannot_describe_contracts_values_nothing(tmp_path: Path) -> None:
    class NoDetails(FakeBroker):
        contract_details = None  # type: ignore[assignment]

    clock = ManualClock()
    broker = NoDetails(clock)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    result = await engine.propose(make_intent(clock))
    assert reasons(result) == {R.UNKNOWN_INSTRUMENT}
    assert "cannot describe contracts" in result.message
    await engine.stop()


async def test_a_wrong_con_id_or_currency_is_refused_naming_both_values(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    await engine.propose(make_intent(clock))  # resolves AAPL
    facts = broker.contracts["AAPL"]
    other = await engine.propose(restated(make_intent(clock), currency="EUR"))
    assert reasons(other) == {R.INSTRUMENT_MISMATCH}
    assert "currency EUR (broker says USD)" in other.message
    wrong_id = await engine.propose(restated(make_intent(clock), con_id=facts.con_id + 1))
    assert reasons(wrong_id) == {R.UNKNOWN_INSTRUMENT}
    await engine.stop()


async def test_two_matching_contracts_are_ambiguous(tmp_path: Path) -> None:
    class TwoMatches(FakeBroker):
        async def contract_details(self, instrument: Instrument):  # type: ignore[no-untyped-def]
            return [stock_facts("MES", con_id=1), stock_facts("MES", con_id=2)]

    clock = ManualClock()
    broker = TwoMatches(clock)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("MES", "99.99", "100.01")
    result = await engine.propose(make_intent(clock, symbol="MES"))
    assert reasons(result) == {R.AMBIGUOUS_INSTRUMENT}
    assert "conIds 1, 2" in result.message
    await engine.stop()


async def test_prices_off_the_tick_grid_are_refused_with_the_nearest_valid_ones(
    tmp_path: Path,
) -> None:
    engine, _, clock = await started_engine(tmp_path)
    result = await engine.propose(make_intent(clock, limit="100.005", stop_loss="99.90"))
    assert reasons(result) == {R.PRICE_OFF_TICK}
    assert "limit_price 100.005 is not on the 0.01 grid: nearest 100.00 or 100.01" in (
        result.message
    )
    await engine.stop()


async def test_fractional_shares_only_where_the_contract_allows(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = FakeBroker(clock)
    broker.contracts["FRAC"] = stock_facts("FRAC", size_increment=Decimal("0.0001"))
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("AAPL", "99.99", "100.01")
    broker.quote("FRAC", "99.99", "100.01")
    whole_only = await engine.propose(make_intent(clock, quantity="10.5"))
    assert reasons(whole_only) == {R.QUANTITY_OFF_INCREMENT}
    assert "quantity 10.5 is not a multiple of 1: nearest 10 or 11" in whole_only.message
    fractional = await engine.propose(make_intent(clock, quantity="10.5", symbol="FRAC"))
    assert fractional.accepted, fractional.message
    await engine.stop()


async def test_contract_facts_are_asked_once_and_recorded_as_a_bead(tmp_path: Path) -> None:
    engine, broker, clock = await started_engine(tmp_path)
    for _ in range(3):
        await engine.propose(make_intent(clock, order_type=OrderType.LIMIT))
    assert len(broker.contract_queries) == 1
    kinds = [e.kind for e in engine.store.events()]
    assert kinds.count("CONTRACT") == 1
    await engine.stop()
