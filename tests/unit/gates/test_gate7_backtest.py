"""Gate 7 judges paper against the newest backtest summary, not the paper drill's toy baseline."""

from __future__ import annotations

import json
import os
from pathlib import Path

from console.drills.paper_metrics import MetricRow, compute_metrics, write_metrics
from contracts.config import Config
from engine.gates import Verdict, evaluate
from engine.golive_evidence import (
    BACKTEST_SUMMARY_FILE,
    EvidencePaths,
    load_evidence,
    record_signoff,
)
from engine.strategy.backtest import SUMMARY_FILE


def metrics(root: Path, sharpe_paper: str, toy_baseline: str) -> None:
    rows = [
        MetricRow("duration", "21600", "s", "PASS"),
        MetricRow("trades", "60", "orders", "PASS"),
        MetricRow("fill_rate", "99.5", "%", "PASS"),
        MetricRow("latency_p95", "40", "ms", "PASS"),
        MetricRow("latency_delta", "10", "%", "PASS"),
        MetricRow("sharpe_paper", sharpe_paper, "per trade", "INFO"),
        MetricRow("sharpe_backtest", toy_baseline, "per trade", "INFO"),
    ]
    write_metrics(root / "PAPER_TRADING_METRICS.csv", rows)


def backtest(directory: Path, sharpe: float | None, age_s: int = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / BACKTEST_SUMMARY_FILE
    path.write_text(json.dumps({"sharpe_backtest": sharpe, "trades": 9}))
    stamp = path.stat().st_mtime - age_s
    os.utime(path, (stamp, stamp))
    return path


def gate7(root: Path) -> tuple[Verdict, str, str]:
    cfg = Config(data_dir=str(root / "data"))
    ev = load_evidence(cfg, EvidencePaths(root))
    g = evaluate(ev, cfg.golive)[6]
    assert g.number == 7 and ev.paper is not None
    text = " ".join(g.failures + g.missing)
    return g.verdict, text, ev.paper.backtest_source


def test_the_file_names_agree() -> None:
    assert BACKTEST_SUMMARY_FILE == SUMMARY_FILE


def test_gate7_ignores_the_toy_baseline_without_a_backtest(tmp_path: Path) -> None:
    metrics(tmp_path, "0.90", "0.10")  # the toy baseline alone would pass
    verdict, text, source = gate7(tmp_path)
    assert verdict is not Verdict.PASS and "deskgate backtest" in text and source == ""


def test_gate7_compares_paper_with_the_newest_backtest(tmp_path: Path) -> None:
    metrics(tmp_path, "0.90", "0.10")
    backtest(tmp_path / "bt-old", 0.5, age_s=3600)
    newest = backtest(tmp_path / "data" / "bt-new", 2.0)
    verdict, text, source = gate7(tmp_path)
    assert source == str(newest.resolve())
    assert verdict is Verdict.FAIL and "0.900 <" in text and "2.000" in text
    os.utime(newest, (newest.stat().st_mtime - 7200,) * 2)  # now the other one is newest
    verdict, text, source = gate7(tmp_path)
    assert source.endswith("bt-old/" + BACKTEST_SUMMARY_FILE) and "Sharpe" not in text


def test_gate7_fails_a_backtest_without_edge_or_sharpe(tmp_path: Path) -> None:
    metrics(tmp_path, "0.90", "5.0")
    backtest(tmp_path / "bt", -0.2)
    verdict, text, _ = gate7(tmp_path)
    assert verdict is Verdict.FAIL and "backtest Sharpe -0.200 <= 0" in text
    backtest(tmp_path / "bt", None)
    verdict, text, _ = gate7(tmp_path)
    assert verdict is not Verdict.PASS and "Sharpe backtest (undefined in" in text


def test_the_paper_drill_metrics_take_the_backtest_sharpe() -> None:
    rows = {
        r.metric: r
        for r in compute_metrics([], [], 60.0, 0, 0, Config().golive, backtest_sharpe=0.25)
    }
    assert rows["sharpe_backtest"].value == "0.2500"
    assert rows["sharpe_sim_baseline"].value == "n/a"
    without = {r.metric: r for r in compute_metrics([], None, 60.0, 0, 0, Config().golive)}
    assert without["sharpe_backtest"].value == "n/a"  # no summary: nothing to compare with


def test_a_signoff_is_bound_to_the_backtest_gate7_uses(tmp_path: Path) -> None:
    cfg = Config(data_dir=str(tmp_path / "data"))
    paths = EvidencePaths(tmp_path)
    metrics(tmp_path, "0.90", "0.10")
    backtest(tmp_path / "bt", 0.5, age_s=60)
    signed = record_signoff(cfg, "cto", "Ada", paths=paths)
    assert load_evidence(cfg, paths).evidence_hash == signed.evidence_hash
    backtest(tmp_path / "data" / "bt-new", 0.6)  # a newer backtest changes gate 7's baseline
    assert load_evidence(cfg, paths).evidence_hash != signed.evidence_hash
