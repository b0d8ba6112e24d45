"""What every benchmark shares: percentiles, the printed table, `--json` figures and smoke mode."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path


def pct(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `samples`."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def dist(samples: Sequence[float], unit: str = "ms") -> str:
    """p50/p95/p99/max of `samples` on one line."""
    return (
        f"p50 {pct(samples, 50):7.2f}  p95 {pct(samples, 95):7.2f}  "
        f"p99 {pct(samples, 99):7.2f}  max {max(samples):7.2f} {unit}  (n={len(samples)})"
    )


def table(title: str, rows: Mapping[str, str]) -> None:
    """Print one titled block of `label  value` rows."""
    width = max(len(k) for k in rows)
    print(f"\n== {title} ==")
    for k, v in rows.items():
        print(f"  {k:<{width}}  {v}")


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """`--json PATH` writes the figures; `--smoke` runs tiny counts so the suite can run it."""
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures here")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny counts: proves the benchmark runs, times nothing"
    )


def write_figures(path: Path | None, figures: Mapping[str, float]) -> None:
    """Write `figures` as one flat JSON object of finite numbers (refuses NaN and inf)."""
    bad = [k for k, v in figures.items() if not math.isfinite(float(v))]
    if bad:
        raise ValueError(f"figures not finite: {', '.join(bad)}")
    if path is not None:
        path.write_text(json.dumps({k: float(v) for k, v in figures.items()}, indent=1) + "\n")
    print("\nfigures: " + ", ".join(f"{k}={float(v):.4g}" for k, v in figures.items()))
