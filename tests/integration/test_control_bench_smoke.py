"""The control-kill benchmark runs end to end with tiny counts (nothing timed is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = (sys.executable, "-m", "tests.bench.bench_control_kill")


def test_bench_control_kill_runs_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.bench_control_kill",
            "--orders",
            "3",
            "--runs",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert figures["orders"] == 3 and len(figures["samples"]) == 1
    assert figures["samples"][0]["working"] == 3
    assert set(figures["median"]) == {
        "spawn_to_halted_ms",
        "halted_to_confirmed_ms",
        "spawn_to_cli_exit_ms",
    }
