"""`deskgate chaos` as a trader runs it: a rich table on stdout, library log lines in the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

IB_ASYNC_LINES = ("Error 201", "Canceled order", "ib_async", "Trade(")


def test_chaos_prints_no_library_log_line_and_keeps_them_in_the_log_file(tmp_path: Path) -> None:
    report = tmp_path / "CHAOS_REPORT.md"
    done = subprocess.run(
        [sys.executable, "-m", "console.cli", "chaos", "--report", str(report),
         "--vector", "CV_S32_IBKR_REJECTION", "--vector", "CV_S32_PROMOTION_VETO",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in IB_ASYNC_LINES:
        assert needle not in done.stderr and needle not in done.stdout, needle
    assert "Error 201" in report.with_suffix(".log").read_text()  # it happened, off-screen
    assert "┃ vector" in done.stdout and "CV_S32_PROMOTION_VETO" in done.stdout  # a rich table
    text = report.read_text()
    assert "| CV_S32_IBKR_REJECTION |" in text and "| CV_S32_PROMOTION_VETO |" in text
