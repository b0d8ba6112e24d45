"""`deskgate paper`: a paper validation session (writes the trade log and the metrics)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from console.cli.options import BROKER, SubParsers, add_common, fail, load


def register(sub: SubParsers) -> None:
    p = sub.add_parser("paper", help="paper validation session (writes log and metrics)")
    add_common(p, BROKER, verb="paper")
    p.add_argument("--duration", default="6h", help="6h, 90m, 45s ... (default 6h)")
    p.add_argument("--trades", default="50-200", help="order count or range (default 50-200)")
    p.add_argument("--symbols", default="AAPL,MSFT,NVDA,SPY", help="comma-separated symbols")
    p.add_argument("--market-share", type=float, default=0.5, help="share of market orders")
    p.add_argument("--out-dir", default=".", help="where the log and metrics go")
    p.add_argument("--no-baseline", action="store_true", help="skip the simulated-venue baseline")
    p.add_argument("--no-rollback", action="store_true", help="skip the closing rollback drill")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from console.drills import paper as drill

    config = load(args)
    try:
        low, high = drill.parse_trades(args.trades)
        plan = drill.PaperPlan(
            duration_s=drill.parse_duration(args.duration),
            trades_min=low,
            trades_max=high,
            symbols=tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip()),
            seed=config.broker.seed,
            market_share=args.market_share,
        )
        if not plan.symbols:
            raise ValueError("--symbols needs at least one symbol")
        if config.broker.kind == "sim":
            raise ValueError("a paper session runs against a gateway or IB (--broker gateway)")
        result = asyncio.run(
            drill.run_paper(
                config,
                plan,
                Path(args.out_dir).expanduser(),
                baseline=not args.no_baseline,
                rollback_at_end=not args.no_rollback,
                progress=_progress_printer(),
            )
        )
    except ValueError as exc:
        return fail(str(exc))
    for row in result.metrics:
        print(f"{row.metric:>30} {row.value:>12} {row.unit:<10} {row.status}")
    print(f"wrote {result.log_path} and {result.metrics_path}")
    if result.incident:
        verdict = "verified" if result.rollback_ok else "NOT verified"
        print(f"rollback drill {verdict}: {result.incident}")
    print(f"audit stores under {result.data_dir}")
    return 0 if all(r.status != "FAIL" for r in result.metrics) else 1


def _progress_printer() -> Callable[[str], None]:
    """Progress on one rewritten line at a terminal; every tenth when piped."""
    tty = sys.stderr.isatty()
    last = [-1]

    def show(line: str) -> None:
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
            return
        pct = int(float(line.split("]")[1].split("%")[0]) // 10)
        if pct != last[0] or line.endswith("\n"):
            last[0] = pct
            print(line.rstrip("\n"), file=sys.stderr, flush=True)

    return show
