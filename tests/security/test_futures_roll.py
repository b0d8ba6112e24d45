"""Attacks on futures expiry: no order in an expired contract, no entry inside the roll window."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.config import FuturesConfig
from contracts.enums import DenialReason as R
from contracts.intent import Instrument, Intent
from contracts.market import ContractFacts
from engine.clock import Clock, ManualClock
from engine.engine import Engine
from tests.support import FakeBroker, config_with, future_facts, make_intent

TODAY = date(2026, 11, 23)
"""The ManualClock's day at CME."""


class ListingBroker(FakeBroker):
    """Answers a futures query without expiry with every listed expiry, as TWS does."""

    def __init__(self, clock: ManualClock, expiries: list[str]) -> None:
        super().__init__(clock)
        self.listed = [
            future_facts("MES", expiry=e).model_copy(update={"con_id": 700_000 + i})
            for i, e in enumerate(expiries)
        ]

    async def contract_details(self, instrument: Instrument) -> list[ContractFacts]:
        matches = self.listed
        if instrument.expiry:
            matches = [m for m in matches if str(m.expiry).replace("-", "") == instrument.expiry]
        if instrument.con_id is not None:
            matches = [m for m in matches if m.con_id == instrument.con_id]
        return matches


def mes(clock: Clock, expiry: str = "", *, reduces_risk: bool = False) -> Intent:
    data = make_intent(clock, symbol="MES", reduces_risk=reduces_risk).model_dump()
    data["order"]["instrument"] = {"symbol": "MES", "sec_type": "FUT", "exchange": "CME"}
    data["order"]["instrument"]["expiry"] = expiry
    return Intent.model_validate(data)


async def engine_with(tmp_path: Path, expiries: list[str]) -> tuple[Engine, ListingBroker]:
    clock = ManualClock()
    broker = ListingBroker(clock, expiries)
    engine = Engine(config_with(), broker, data_dir=tmp_path, clock=clock)
    await engine.start()
    broker.quote("MES", "99.99", "100.01")
    return engine, broker


def reasons(result) -> set[R]:  # type: ignore[no-untyped-def]
    return {d.reason for d in result.denials if d.reason is not None}


async def test_an_expired_contract_is_refused_with_its_dates(tmp_path: Path) -> None:
    engine, broker = await engine_with(tmp_path, ["20261120", "20261218"])
    result = await engine.propose(mes(engine.clock, "20261120"))
    assert reasons(result) == {R.CONTRACT_EXPIRED}
    assert "MESX6 expired 2026-11-20 (today 2026-11-23)" in result.message
    exit_too = await engine.propose(mes(engine.clock, "20261120", reduces_risk=True))
    assert R.CONTRACT_EXPIRED in reasons(exit_too)
    assert broker.submits == []
    await engine.stop()


async def test_an_entry_inside_the_roll_window_is_refused_but_an_exit_passes(
    tmp_path: Path,
) -> None:
    engine, _ = await engine_with(tmp_path, ["20261127", "20261218"])  # rolls 2026-11-19
    result = await engine.propose(mes(engine.clock, "20261127"))
    assert reasons(result) == {R.CONTRACT_ROLLING}
    assert "MESX6 expires 2026-11-27, rolls 2026-11-19, today 2026-11-23" in result.message
    exit_ = await engine.propose(mes(engine.clock, "20261127", reduces_risk=True))
    assert R.CONTRACT_ROLLING not in reasons(exit_)
    await engine.stop()


async def test_no_expiry_resolves_the_front_month_skipping_a_rolled_one(tmp_path: Path) -> None:
    engine, _ = await engine_with(tmp_path, ["20261127", "20261218", "20270319"])
    result = await engine.propose(mes(engine.clock))
    assert result.accepted, result.message
    (pending,) = engine.snapshot().pending
    assert pending.intent.order.instrument.expiry == "20261218"
    calendar = pending.futures
    assert calendar is not None
    assert (calendar.local_symbol, calendar.expiry, calendar.roll_date, calendar.front) == (
        "MESZ6",
        date(2026, 12, 18),
        date(2026, 12, 10),
        True,
    )
    assert [c.local_symbol for c in engine.snapshot().futures] == ["MESZ6"]
    await engine.stop()


async def test_every_listed_expiry_rolled_is_refused_not_guessed(tmp_path: Path) -> None:
    engine, _ = await engine_with(tmp_path, ["20261120", "20261127"])
    result = await engine.propose(mes(engine.clock))
    assert reasons(result) == {R.CONTRACT_ROLLING}
    assert "has rolled by 2026-11-23" in result.message
    await engine.stop()


def test_the_roll_window_is_bounded() -> None:
    assert FuturesConfig().roll_days_before_expiry == 8
    for bad in (-1, 61):
        with pytest.raises(ValidationError):
            FuturesConfig(roll_days_before_expiry=bad)
    with pytest.raises(ValidationError):
        FuturesConfig(preview_wait_s=31)
