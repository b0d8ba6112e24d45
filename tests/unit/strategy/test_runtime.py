"""The runtime end to end on constructed bars: modes, evidence, management, kill, learning."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from engine.strategy.config import StrategyConfig, StrategyMode, TemplateConfig
from engine.strategy.manager import (
    ProposeEntry,
    RequestExit,
    RequestKill,
    RequestModify,
)
from engine.strategy.records import DecisionRecord, LearningRecord, TradeRecord
from engine.strategy.runtime import StrategyRuntime
from tests.unit.strategy import scenes
from tests.unit.strategy.helpers import DAY, MES, Recorder, bar


def runtime_for(name: str = "K3", mode: StrategyMode = StrategyMode.LIVE, **kw) -> tuple:
    templates = dict(StrategyConfig().templates)
    templates[name] = templates[name].model_copy(update={"mode": mode})
    config = StrategyConfig(enabled=(name,), templates=templates, **kw)
    rec = Recorder()
    rt = StrategyRuntime(config, {"MES": MES}, rec, equity=Decimal(10000), run_id="t")
    rt.new_session(DAY)
    return rt, rec


def shifted(bars, days):
    for b in bars:
        b.ts += timedelta(days=days)
        b.__post_init__()
    return bars


def run(rt, bars, now=None):
    actions = []
    for b in bars:
        actions += rt.on_bar(b, now=now)
    return actions


def test_live_k3_proposes_an_intent_carrying_its_evidence():
    rt, rec = runtime_for("K3")
    actions = run(rt, scenes.k3_sweep_low())
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    intent = entry.intent
    ev = intent.evidence
    assert intent.strategy == "K3" and intent.order.side.value == "BUY"
    assert intent.order.instrument.sec_type == "FUT" and intent.order.instrument.multiplier == 5
    assert intent.order.stop_loss < intent.order.limit_price < intent.order.take_profit
    assert ev.risk_parameters["risk_usd"] <= Decimal(15)
    assert ev.risk_parameters["stop_ticks"] <= 12
    assert ev.quality_breakdown["F4_likelihood"] > 0.5
    assert "signal.close_location" in ev.quality_breakdown and "dvs.stale" in ev.quality_breakdown
    assert "EUC = " in ev.notes and "K3 liquidity sweep" in ev.notes
    assert all(c.passed for c in ev.red_checks)
    assert ev.sizing is not None and ev.sizing.computed_quantity == intent.order.quantity
    assert 0 < ev.setup_quality <= 100
    lines = [r.text for r in rec.of(DecisionRecord)]
    assert any(t.startswith("K3 proposes buy") for t in lines)
    assert any(t.startswith("K3 skipped: no sweep") for t in lines)


def test_observe_journals_what_it_would_do_and_sends_nothing():
    rt, rec = runtime_for("K3", StrategyMode.OBSERVE)
    actions = run(rt, scenes.k3_sweep_low())
    assert not [a for a in actions if isinstance(a, ProposeEntry)]
    assert any("(observe) would buy" in r.text for r in rec.of(DecisionRecord))


def test_shadow_trades_virtually_and_records_a_shadow_session():
    rt, rec = runtime_for("K3", StrategyMode.SHADOW)
    bars = scenes.k3_sweep_low()
    assert not [a for a in run(rt, bars) if isinstance(a, ProposeEntry)]
    (pos,) = rt.positions.values()
    assert pos.mode == "shadow"
    up = [bar(41 + i, 5000.5 + i, 5001.75 + i, 5000.25 + i, 5001.5 + i) for i in range(6)]
    run(rt, up)
    (trade,) = rec.of(TradeRecord)
    assert trade.mode == "shadow" and trade.exit_reason == "target" and trade.pnl_usd > 0
    rt.end_session(up[-1].end)
    sessions = [r for r in rec.records if getattr(r, "kind", "") == "STRATEGY_SHADOW_SESSION"]
    assert sessions and sessions[0].strategy == "K3" and sessions[0].decisions > 0


def test_break_even_stop_move_then_thesis_exit_for_a_live_position():
    rt, _ = runtime_for("K3")
    actions = run(rt, scenes.k3_sweep_low())
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    intent_id = entry.intent.intent_id
    first = bar(41, 5000.5, 5001.0, 5000.25, 5000.75)
    rt.on_entry_filled(intent_id, 5000.5, first.ts)
    run(rt, [first])
    run_up = bar(42, 5000.75, 5003.5, 5000.75, 5003.0)  # more than 1 R in favour
    (move,) = [a for a in rt.on_bar(run_up) if isinstance(a, RequestModify)]
    assert move.intent_id == intent_id and move.stop_price == Decimal("5000.50")
    back = bar(43, 5001.0, 5001.0, 4998.5, 4999.0)  # closes under the swept level again
    (exit_,) = [a for a in rt.on_bar(back) if isinstance(a, RequestExit)]
    assert exit_.reason == "thesis" and exit_.side.value == "SELL" and exit_.quantity >= 1


def test_time_stop_closes_a_trade_that_goes_nowhere():
    rt, _ = runtime_for("K3")
    actions = run(rt, scenes.k3_sweep_low())
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    rt.on_entry_filled(entry.intent.intent_id, 5000.5, bar(41, 1, 1, 1, 1).ts)
    limit = StrategyConfig().template("K3").time_stop_bars
    flat = [bar(41 + i, 5000.5, 5000.75, 5000.0, 5000.5) for i in range(limit)]
    exits = [a for a in run(rt, flat) if isinstance(a, RequestExit)]
    assert [e.reason for e in exits] == ["time"]


def test_stale_feed_and_margin_call_throw_the_kill_switch_once():
    rt, _ = runtime_for("K3")
    bars = scenes.k3_sweep_low()
    run(rt, bars[:-1])
    stale = bars[-1].end + timedelta(minutes=30)
    kills = [a for a in rt.on_bar(bars[-1], now=stale) if isinstance(a, RequestKill)]
    assert len(kills) == 1 and "DVS" in kills[0].reason
    assert not [
        a
        for a in rt.on_bar(bar(41, 5000, 5001, 4999, 5000), now=stale)
        if isinstance(a, RequestKill)
    ]
    rt2, _ = runtime_for("K3")
    rt2.on_account(Decimal(10000), -0.05, 50.0)
    (kill,) = [a for a in rt2.on_bar(bars[0]) if isinstance(a, RequestKill)]
    assert "margin call" in kill.reason


def test_two_live_losses_quarantine_into_shadow_and_the_day_lockout_ends_next_session():
    rt, rec = runtime_for("K3")
    for n in range(2):
        rt.new_session(DAY + timedelta(days=7 * n))
        actions = run(rt, shifted(scenes.k3_sweep_low(), 7 * n))
        (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
        fill = shifted([bar(41, 5000.5, 5000.5, 4990, 4991)], 7 * n)[0]
        rt.on_entry_filled(entry.intent.intent_id, 5000.5, fill.ts)
        rt.on_exit_filled(entry.intent.intent_id, 4997.5, fill.end, "stop")
    (change,) = rec.of(LearningRecord)
    assert change.change == "QUARANTINED" and rt.mode_of("K3") is StrategyMode.SHADOW
    assert rt.equity == Decimal(10000) + sum(t.pnl_usd for t in rec.of(TradeRecord))
    rt.new_session(DAY + timedelta(days=14))
    assert rt.day.consecutive_losses == 0 and not rt.halted
    actions = run(rt, shifted(scenes.k3_sweep_low(), 14))
    assert not [a for a in actions if isinstance(a, ProposeEntry)]  # shadow now
    assert [p.mode for p in rt.positions.values()] == ["shadow"]


def test_status_rows_for_the_console_panel():
    rt, _ = runtime_for("K3")
    run(rt, scenes.k3_sweep_low())
    (row,) = rt.status()
    assert row.name == "K3" and row.mode == "LIVE" and not row.quarantined
    assert row.last_decision and 0 <= row.dvs <= 1 and 0 <= row.eqs <= 1


def test_template_config_mode_defaults_to_live():
    assert TemplateConfig().mode is StrategyMode.LIVE


def test_a_violent_bar_against_the_trade_is_a_volatility_exit():
    rt, _ = runtime_for("K3")
    actions = run(rt, scenes.k3_sweep_low())
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    rt.on_entry_filled(entry.intent.intent_id, 5000.5, bar(41, 1, 1, 1, 1).ts)
    crash = bar(41, 5000.5, 5000.75, 4999.5, 4999.75)  # stays above the swept level (thesis ok)
    crash.high, crash.low = 5006.0, 4999.5  # but spans more than 3 ATR, closing down
    (exit_,) = [a for a in rt.on_bar(crash) if isinstance(a, RequestExit)]
    assert exit_.reason == "volatility"


def test_shadow_sessions_become_promotion_evidence():
    from engine.promotion import EvidenceBundle, missing_evidence
    from engine.strategy.outcomes import promotion_sessions
    from engine.strategy.records import ShadowSessionRecord

    rt, rec = runtime_for("K3", StrategyMode.SHADOW)
    run(rt, scenes.k3_sweep_low())
    rt.end_session(bar(41, 1, 1, 1, 1).end)
    sessions = promotion_sessions(rec.of(ShadowSessionRecord), "K3")
    assert len(sessions) == 1 and sessions[0].regime in ("trend", "range")
    missing = missing_evidence(EvidenceBundle("K3", tuple(sessions)))
    assert any(m.startswith("sessions: 1 of 20") for m in missing)


def test_an_exit_reason_outside_the_vocabulary_is_refused():
    import pytest

    rt, _ = runtime_for("K3")
    actions = run(rt, scenes.k3_sweep_low())
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    rt.on_entry_filled(entry.intent.intent_id, 5000.5, bar(41, 1, 1, 1, 1).ts)
    with pytest.raises(ValueError, match="not one of stop, target"):
        rt.on_exit_filled(entry.intent.intent_id, 5001.0, bar(41, 1, 1, 1, 1).end, "because")


def test_a_partial_entry_is_tracked_at_the_quantity_filled():
    rt, _ = runtime_for("K3")
    actions = run(rt, scenes.k3_sweep_low())
    (entry,) = [a for a in actions if isinstance(a, ProposeEntry)]
    pos = rt.positions[entry.intent.intent_id]
    pos.quantity = pos.ordered = 2  # as if the plan had sized two contracts
    pos.risk_usd = Decimal("7.50") * 2
    ordered, risk = pos.quantity, pos.risk_usd
    ts = bar(41, 1, 1, 1, 1).ts
    rt.on_entry_filled(entry.intent.intent_id, 5000.5, ts, filled=1)
    assert pos.quantity == 1 and pos.risk_usd == risk / ordered
    rt.on_entry_filled(entry.intent.intent_id, 5000.5, ts, filled=ordered)
    assert pos.quantity == ordered and pos.risk_usd == risk and rt.day.trades == 1
