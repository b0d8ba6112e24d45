"""`deskgate paper`: paper validation sessions (writes the trade logs, metrics and a summary),
or with `--strategies K1,...` the K1–K5 bot headless in the paper drill (sim or paper only;
each intent approved through its token by the audited 'paper-drill approver')."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from console.cli.options import BROKER, SubParsers, add_common, fail, load

if TYPE_CHECKING:
    from rich.progress import TaskID

    from console.drills.campaign import CampaignResult
    from contracts.config import Config


TOY_SYMBOLS = "AAPL,MSFT,NVDA,SPY"


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "paper",
        help="paper validation sessions (writes logs, metrics, summary)",
        description=(
            "Paper validation sessions. With --strategies K1,...,K5 the bot runs headless "
            "instead, in sim or paper mode only (a live account is refused): every intent it "
            "proposes goes through the token approval and is approved by the explicit, audited "
            "'paper-drill approver' actor, named in every approval bead."
        ),
    )
    add_common(p, BROKER, verb="paper")
    p.add_argument("--duration", default="6h", help="one session: 6h, 90m, 45s ... (default 6h)")
    p.add_argument("--trades", default="50-200", help="order count or range (default 50-200)")
    p.add_argument(
        "--symbols",
        default=None,
        help="comma-separated symbols (default AAPL,MSFT,NVDA,SPY; with --strategies the "
        "[strategy] symbols, e.g. MES)",
    )
    p.add_argument(
        "--strategies",
        default=None,
        help="run the bot (K1,...,K5) headless for --duration, approved by the audited "
        "'paper-drill approver' (sim/paper only)",
    )
    p.add_argument("--market-share", type=float, default=0.5, help="share of market orders")
    p.add_argument("--sessions", type=int, default=1, help="daily sessions in the campaign")
    p.add_argument("--out-dir", default=".", help="where the logs, metrics and summary go")
    p.add_argument("--no-baseline", action="store_true", help="skip the simulated-venue baseline")
    p.add_argument("--no-rollback", action="store_true", help="skip the closing rollback drill")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from console.cli.output import log_to_file, progress_bar
    from console.drills import campaign, paper

    config = load(args)
    out_dir = Path(args.out_dir).expanduser()
    if args.strategies is not None:
        return _run_bot(args, config, out_dir)
    try:
        low, high = paper.parse_trades(args.trades)
        plan = paper.PaperPlan(
            duration_s=paper.parse_duration(args.duration),
            trades_min=low,
            trades_max=high,
            symbols=tuple(
                s.strip().upper() for s in (args.symbols or TOY_SYMBOLS).split(",") if s.strip()
            ),
            seed=config.broker.seed,
            market_share=args.market_share,
        )
        if not plan.symbols:
            raise ValueError("--symbols needs at least one symbol")
        if config.broker.kind == "sim":
            raise ValueError("a paper session runs against a gateway or IB (--broker gateway)")
        if args.sessions < 1:
            raise ValueError(f"--sessions must be at least 1, not {args.sessions}")
        log = log_to_file(out_dir / "deskgate-paper.log")
        with progress_bar() as bar:
            tasks: dict[int, TaskID] = {}

            def show(day: int, state: paper.PaperProgress) -> None:
                if day not in tasks:
                    tasks[day] = bar.add_task(f"session {day}/{args.sessions}", status="")
                bar.update(
                    tasks[day],
                    total=state.duration_s,
                    completed=min(state.elapsed_s, state.duration_s),
                    status=f"orders {state.placed}/{state.target} filled {state.filled}",
                )

            result = asyncio.run(
                campaign.run_campaign(
                    config,
                    plan,
                    out_dir,
                    args.sessions,
                    baseline=not args.no_baseline,
                    rollback_at_end=not args.no_rollback,
                    on_progress=show,
                )
            )
    except ValueError as exc:
        return fail(str(exc))
    _print(result)
    print(f"campaign summary {result.summary_path}; library log in {log}")
    return 0 if result.passed else 1


def _run_bot(args: argparse.Namespace, config: Config, out_dir: Path) -> int:
    import asyncio

    from console.cli.output import log_to_file
    from console.compose import StartupRefused
    from console.drills import paper, paper_bot
    from engine.strategy.plugin import make_plugin

    try:
        paper_bot.refuse_live(config)
        duration = paper.parse_duration(args.duration)
        plugin = make_plugin(config.strategy, args.strategies, args.symbols)
        log = log_to_file(out_dir / "deskgate-paper-bot.log")
        result = asyncio.run(paper_bot.run_paper_bot(config, plugin, duration, out_dir))
    except (ValueError, StartupRefused) as exc:
        return fail(str(exc))
    print(
        f"bot drill: {result.approved} approved by '{paper_bot.APPROVER}', "
        f"{result.refused} refused at submit, {result.trades} trades, "
        f"{result.journal_lines} journal lines"
    )
    print(f"summary {result.summary_path}; audit store under {result.data_dir}; log {log}")
    return 0


def _print(result: CampaignResult) -> None:
    from console.cli.output import print_table

    for session in result.sessions:
        print_table(
            f"{session.session_id} ({session.log_path})",
            ("metric", "value", "unit", "status"),
            ((r.metric, r.value, r.unit, r.status) for r in session.metrics),
        )
        if session.incident:
            verdict = "verified" if session.rollback_ok else "NOT verified"
            print(f"rollback drill {verdict}: {session.incident}")
        print(f"audit stores under {session.data_dir}")
    if len(result.sessions) > 1:
        print_table(
            "Campaign",
            ("session", "start", "end", "verdict"),
            (
                (s.session_id, f"{s.start_time:%H:%M:%S}", f"{s.end_time:%H:%M:%S}",
                 "FAIL" if any(m.status == "FAIL" for m in s.metrics) else "PASS")
                for s in result.sessions
            ),
        )  # fmt: skip
