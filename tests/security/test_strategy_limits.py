"""Attacks on the bot's limits: hostile plans, bad feeds, duplicate or foreign fills, records."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.strategy.config import StrategyConfig
from engine.strategy.decision import DayBook, Gate, decide
from engine.strategy.manager import ProposeEntry, RequestKill
from engine.strategy.records import DecisionRecord
from engine.strategy.runtime import StrategyRuntime
from engine.strategy.store import RecordLog, read_log
from engine.strategy.templates import EntryPlan, Setup, Skip
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import DAY, MES, Recorder, bar

CFG = StrategyConfig()
GATE = Gate(Decimal(10_000_000), 1.0, 1.0, 0.0, 60.0, False, True)


def hostile(stop_ticks: int, target_ticks: int = 40) -> EntryPlan:
    setup = Setup("K3", 1, 1.0, ("F4",), 5000.0, 4990.0, float("nan"), "forged")
    return EntryPlan(setup, 1, 5000.0, 4990.0, 5010.0, stop_ticks, target_ticks)


@pytest.mark.parametrize("stop_ticks", [0, -4, 13, 400])
def test_a_forged_plan_never_sizes_outside_the_constitution(stop_ticks):
    result = decide(CFG, hostile(stop_ticks), MES, GATE, DayBook(), after_loss_today=False)
    assert isinstance(result, Skip)


def test_a_rich_account_still_risks_at_most_fifteen_dollars():
    result = decide(CFG, hostile(1), MES, GATE, DayBook(), after_loss_today=False)
    assert not isinstance(result, Skip)
    assert result.risk_usd <= Decimal(15) and result.quantity <= 2  # tier T2 caps contracts


def runtime() -> tuple[StrategyRuntime, Recorder]:
    rec = Recorder()
    rt = StrategyRuntime(
        StrategyConfig(enabled=("K3",)), {"MES": MES}, rec, equity=Decimal(10000), run_id="x"
    )
    rt.new_session(DAY)
    return rt, rec


def test_an_outlier_bar_blocks_entries_instead_of_trading_on_it():
    quality = CFG.quality.model_copy(update={"outlier_penalty": 0.6, "penalty_decay": 0.99})
    rec = Recorder()
    rt = StrategyRuntime(
        StrategyConfig(enabled=("K3",), quality=quality), {"MES": MES}, rec, equity=Decimal(10000)
    )
    rt.new_session(DAY)
    bars = scenes.k3_sweep_low()
    bars[15] = bar(15, 5000, 5060, 4940, 5000)  # a bad print 60 points each way
    actions = []
    for b in bars:
        actions += rt.on_bar(b)
    assert not [a for a in actions if isinstance(a, ProposeEntry)]
    assert any(r.code == "dvs" for r in rec.of(DecisionRecord))
    clean, _ = runtime()
    assert [
        a for b in scenes.k3_sweep_low() for a in clean.on_bar(b) if isinstance(a, ProposeEntry)
    ]


def test_a_frozen_feed_throws_the_kill_switch_and_halts_entries():
    rt, _ = runtime()
    bars = scenes.k3_sweep_low()
    late = bars[-1].end + timedelta(hours=1)
    actions = []
    for b in bars:
        actions += rt.on_bar(b, now=late)
    assert [a for a in actions if isinstance(a, RequestKill)]
    assert not [a for a in actions if isinstance(a, ProposeEntry)] and rt.halted


def test_duplicate_and_foreign_fills_do_not_count_twice_or_invent_positions():
    rt, _ = runtime()
    actions = []
    for b in scenes.k3_sweep_low():
        actions += rt.on_bar(b)
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    ts = bar(41, 1, 1, 1, 1).ts
    rt.on_entry_filled(entry.intent.intent_id, 5000.5, ts)
    rt.on_entry_filled(entry.intent.intent_id, 5000.5, ts)
    rt.on_entry_filled("someone-else", 5000.5, ts)
    rt.on_exit_filled("someone-else", 4000.0, ts, "stop")
    assert rt.day.trades == 1 and list(rt.positions) == [entry.intent.intent_id]


def test_a_refused_intent_frees_the_slot_instead_of_blocking_the_day():
    rt, _ = runtime()
    actions = []
    for b in scenes.k3_sweep_low():
        actions += rt.on_bar(b)
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    rt.on_entry_cancelled(entry.intent.intent_id, "refused: MAX_RISK", bar(41, 1, 1, 1, 1).ts)
    assert not rt.positions and rt.day.trades == 0


def test_record_log_is_private_and_a_damaged_line_is_skipped(tmp_path):
    path = tmp_path / "strategy" / "records.jsonl"
    log = RecordLog(path)
    rt = StrategyRuntime(
        StrategyConfig(enabled=("K3",)), {"MES": MES}, log.append, equity=Decimal(10000)
    )
    rt.new_session(DAY)
    for b in scenes.k3_sweep_low():
        rt.on_bar(b)
    log.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"kind": "STRATEGY_LEARNING", "strategy": 1}\nnot json\n')
    records = list(read_log(path))
    assert records and all(isinstance(r, DecisionRecord) for r in records)
