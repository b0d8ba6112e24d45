"""Every benchmark runs in smoke mode (tiny counts, nothing timed) and writes its figures."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).parent
REPO = BENCH_DIR.parents[1]

# The figures other checks read, by invocation; a benchmark not listed must still write some.
REQUIRED = {
    ("bench_engine",): {
        "approve_to_submit_p50_ms",
        "approve_to_submit_p99_ms",
        "fsync_floor_p50_ms",
        "fsync_floor_p99_ms",
    },
    ("bench_engine", "--dwell-ms", "200"): {
        "approve_to_submit_p50_ms",
        "approve_to_submit_p99_ms",
        "fsync_floor_p50_ms",
        "fsync_floor_p99_ms",
    },
    ("bench_gateway_orders",): {
        "raw_ack_p50_ms",
        "raw_ack_p99_ms",
        "engine_ack_p50_ms",
        "engine_ack_p99_ms",
        "engine_over_raw_ack_p50_ratio",
        "engine_over_raw_ack_p99_ratio",
        "sustained_msgs_per_s",
        "error_100_count",
        "kill_100_confirmed_median_ms",
        "kill_100_confirmed_max_ms",
    },
    ("bench_console_live", "--only", "approve"): {
        "approve_to_painted_p50_ms",
        "approve_to_painted_p99_ms",
    },
    ("bench_console_live", "--only", "startup"): {
        "startup_first_frame_median_ms",
        "startup_connected_median_ms",
        "startup_textual_floor_median_ms",
        "startup_sim_textual_frame_median_ms",
        "startup_gateway_textual_frame_median_ms",
    },
    ("bench_console_live", "--only", "memory"): {"rss_growth_pct"},
    ("bench_bot_live",): {"bar_decision_p50_ms", "bar_decision_p99_ms"},
}


def invocations() -> list[tuple[str, ...]]:
    """Each listed invocation, plus one plain run of every other benchmark module."""
    listed = {args[0] for args in REQUIRED}
    others = [(p.stem,) for p in sorted(BENCH_DIR.glob("bench_*.py")) if p.stem not in listed]
    return [*REQUIRED, *others]


@pytest.mark.slow
@pytest.mark.parametrize("args", invocations(), ids=" ".join)
def test_benchmark_runs_in_smoke_mode_and_writes_its_figures(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    out = tmp_path / "figures.json"
    module, *rest = args
    run = subprocess.run(
        [sys.executable, "-m", f"tests.bench.{module}", *rest, "--smoke", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    figures = json.loads(out.read_text())
    assert figures, "no figures written"
    missing = REQUIRED.get(args, set()) - figures.keys()
    assert not missing, f"figures missing: {sorted(missing)}"
    assert all(isinstance(v, float) and math.isfinite(v) for v in figures.values()), figures
