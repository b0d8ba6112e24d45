"""Go-live: paper-session arguments and config, evidence readers, sign-offs, the live check."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.drills.paper import PaperPlan, paper_config, parse_duration, parse_trades
from console.drills.paper_metrics import MetricRow, write_metrics
from contracts.config import Config
from contracts.enums import Mode
from contracts.events import LiveOverride
from engine.golive_evidence import (
    EvidencePaths,
    evidence_events,
    evidence_version,
    governance_evidence,
    live_start_check,
    load_evidence,
    read_coverage,
    read_junit,
    read_paper_metrics,
    record_signoff,
)


def test_duration_and_trade_arguments() -> None:
    assert parse_duration("6h") == 21600 and parse_duration("90m") == 5400
    assert parse_duration("1h30m") == 5400 and parse_duration("45s") == 45
    assert parse_trades("50-200") == (50, 200) and parse_trades("20") == (20, 20)
    for bad in ("6x", "soon", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)
    for bad in ("200-50", "0", "a-b"):
        with pytest.raises(ValueError):
            parse_trades(bad)


def test_paper_config_says_which_limits_it_changes_and_never_runs_live() -> None:
    plan = PaperPlan(60, 50, 200, ("AAPL",))
    cfg, changed = paper_config(Config(), plan)
    assert cfg.mode is Mode.PAPER and cfg.risk.max_trades_per_day == 210
    assert changed["max_trades_per_day"] == "210" and changed["require_stop"] == "False"
    assert not cfg.intake.demo and 50 <= plan.target <= 200
    with pytest.raises(ValueError, match="live"):
        paper_config(Config(mode=Mode.LIVE), plan)


def test_evidence_readers(tmp_path: Path) -> None:
    (tmp_path / "coverage.json").write_text('{"totals": {"percent_covered": 83.4}}')
    cov = read_coverage(tmp_path / "coverage.json")
    assert cov is not None and cov.percent == 83.4
    assert read_coverage(tmp_path / "nope.json") is None
    (tmp_path / "junit.xml").write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.unit.engine.test_a" name="t1"/>'
        '<testcase classname="tests.unit.engine.test_a" name="t2"><failure/></testcase>'
        '<testcase classname="tests.chaos.test_b" name="t3"><skipped/></testcase>'
        '</testsuite></testsuites>'
    )  # fmt: skip
    junit = read_junit(tmp_path / "junit.xml", {"unit": 3})
    assert junit is not None
    assert junit.stages["unit"].tests == 2 and junit.stages["unit"].failures == 1
    assert junit.stages["chaos"].skipped == 1 and junit.stage_files["unit"] == 3
    rows = [
        MetricRow("trades", "12", "orders", "PASS"),
        MetricRow("fill_rate", "99.5", "%", "PASS"),
        MetricRow("latency_delta", "n/a", "%", "PENDING"),
    ]
    write_metrics(tmp_path / "m.csv", rows)
    paper = read_paper_metrics(tmp_path / "m.csv")
    assert paper is not None and paper.trades == 12 and paper.fill_rate_pct == 99.5
    assert paper.latency_delta_pct is None


def test_signoffs_are_audit_beads_and_the_latest_per_role_counts(tmp_path: Path) -> None:
    cfg = Config(data_dir=str(tmp_path))
    record_signoff(cfg, "cto", "Ada")
    record_signoff(cfg, "cto", "Grace")
    record_signoff(cfg, "risk_officer", "Linus", "ok")
    with pytest.raises(ValueError, match="unknown role"):
        record_signoff(cfg, "intern", "Bob")
    with pytest.raises(ValueError, match="name"):
        record_signoff(cfg, "cto", " ")
    signoffs, rollback, kill = governance_evidence(
        evidence_events(sorted(tmp_path.rglob("*.sqlite")))
    )
    assert {(s.role, s.name) for s in signoffs} == {("cto", "Grace"), ("risk_officer", "Linus")}
    assert rollback is None and kill is None


def test_a_signoff_is_bound_to_the_evidence_files_on_disk(tmp_path: Path) -> None:
    cfg = Config(data_dir=str(tmp_path / "data"))
    paths = EvidencePaths(tmp_path)
    (tmp_path / "ACCOUNT_CONFIG.json").write_text('{"account_id": "DU1"}')
    before = evidence_version(paths)
    event = record_signoff(cfg, "cto", "Ada", verdict="approve", paths=paths)
    assert event.verdict == "APPROVE" and event.evidence_hash == before
    assert load_evidence(cfg, paths).evidence_hash == before
    (tmp_path / "PAPER_TRADING_METRICS.csv").write_text("metric,value,unit,status\n")
    after = evidence_version(paths)
    assert after != before and load_evidence(cfg, paths).evidence_hash == after
    (signoff,) = load_evidence(cfg, paths).signoffs
    assert signoff.evidence_hash == before  # signed the older evidence: it no longer counts
    with pytest.raises(ValueError, match="verdict 'MAYBE'"):
        record_signoff(cfg, "cto", "Ada", verdict="maybe", paths=paths)


def test_live_start_is_refused_unless_gate_8_passes_or_overridden(tmp_path: Path) -> None:
    live = Config(mode=Mode.LIVE, data_dir=str(tmp_path))
    paths = EvidencePaths(tmp_path)
    _, refused = live_start_check(live, None, "trader", paths)
    assert refused is not None and "gate 8" in refused and "--override-gates" in refused
    _, refused = live_start_check(live, "   ", "trader", paths)
    assert refused is not None
    _, refused = live_start_check(live, "exchange outage drill", "trader", paths)
    assert refused is None
    overrides = [e for e in evidence_events(sorted(tmp_path.rglob("*.sqlite")))
                 if isinstance(e, LiveOverride)]  # fmt: skip
    assert len(overrides) == 1 and overrides[0].reason == "exchange outage drill"
    assert any("gate 8" in g for g in overrides[0].open_gates)
    _, refused = live_start_check(Config(data_dir=str(tmp_path)), None, "trader", paths)
    assert refused is None
