"""`deskgate backtest` over seeded MES sessions of the sim venue: the issue's "done when"."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from console.cli import main
from engine.strategy.backtest import JOURNAL_FILE, SUMMARY_FILE, TRADES_FILE

ARGS = ["backtest", "--strategies", "K1,K2,K3,K4,K5", "--symbols", "MES", "--days", "5"]


def run(out: Path, seed: int = 7) -> dict[str, bytes]:
    assert main([*ARGS, "--seed", str(seed), "--out", str(out)]) == 0
    return {name: (out / name).read_bytes() for name in (TRADES_FILE, SUMMARY_FILE, JOURNAL_FILE)}


def test_five_seeded_mes_sessions_close_varied_trades_within_risk_and_repeat_exactly(tmp_path):
    first = run(tmp_path / "a")
    rows = list(csv.DictReader((tmp_path / "a" / TRADES_FILE).open(encoding="utf-8")))
    summary = json.loads(first[SUMMARY_FILE])
    live = [r for r in rows if r["mode"] == "live"]
    assert len({r["template"] for r in live}) >= 3
    assert {r["exit_reason"] for r in rows} - {"stop", "target"}
    assert all(Decimal(r["risk_usd"]) <= Decimal(15) for r in rows)
    assert all(int(r["stop_ticks"]) <= 12 for r in rows)
    assert summary["learning_events"]
    assert summary["trades"] == len(live) and summary["sessions"] == 5
    for stats in summary["by_template"].values():
        assert {"win_rate", "expectancy_usd", "trades"} <= set(stats)
    assert "sharpe" in summary
    assert isinstance(summary["sharpe_backtest"], float)
    assert "per trade, not annualised" in summary["sharpe_basis"]
    journal = first[JOURNAL_FILE].decode()
    assert "skipped:" in journal and "proposes" in journal
    second = run(tmp_path / "b")
    assert second == first


def test_recorded_bars_from_a_csv_file_run_the_same_pipeline(tmp_path):
    from broker.sim.bars import session_bars
    from console.bot_verbs import BARS_CSV_HEADER

    path = tmp_path / "bars.csv"
    day_bars = session_bars("MES", __import__("datetime").date(2026, 11, 3), seed=3)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(BARS_CSV_HEADER + "\n")
        for b in day_bars:
            handle.write(
                f"{b.symbol},{b.ts.isoformat()},{b.seconds},{b.open},{b.high},{b.low},"
                f"{b.close},{b.volume}\n"
            )
    out = tmp_path / "out"
    assert main(["backtest", "--bars", str(path), "--out", str(out)]) == 0
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["sessions"] == 1 and summary["bars"] == len(day_bars)


def test_a_bad_bars_file_is_one_line_naming_the_row(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("symbol,ts,seconds,open,high,low,close,volume\nMES,yesterday,60,1,1,1,1,1\n")
    assert main(["backtest", "--bars", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and err.count("\n") == 1
