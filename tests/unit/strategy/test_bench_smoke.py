"""The backtest benchmark runs on a tiny tape and writes its figures (nothing timed asserted)."""

from __future__ import annotations

import json

from tests.bench import bench_backtest


def test_bench_backtest_smoke(tmp_path):
    out = tmp_path / "bench.json"
    figures = bench_backtest.main(
        ["--bars", "3000", "--latency-samples", "200", "--json", str(out)]
    )
    saved = json.loads(out.read_text())
    assert saved["bars"] == figures["bars"] == 3000
    assert {"bars_per_second", "on_bar_p50_us", "on_bar_p99_us", "trades"} <= set(saved)
