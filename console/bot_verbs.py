"""The bot's command-line verbs: `deskgate backtest`, `deskgate journal`, `deskgate learning`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the domain loads when the verb runs, not when the parser is built
    from contracts.market import Bar, ContractFacts
    from engine.strategy.bars import BarView
    from engine.strategy.config import StrategyConfig
    from engine.strategy.records import LearningRecord, StrategyRecord


DEFAULT_START = date(2026, 11, 2)
"""Backtests start on a fixed day unless told otherwise: the same seed gives the same files."""


def _fail(message: str) -> int:
    print(f"deskgate: {message}", file=sys.stderr)
    return 2


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip().upper() for n in text.split(",") if n.strip())


# --- backtest ----------------------------------------------------------------------------------


def _facts(symbol: str, day: date) -> ContractFacts:
    from broker.sim.bars import spec_for
    from broker.sim.symbols import listing_facts, listings

    spec = spec_for(symbol)
    found = listings(spec, day)
    if not found or not spec.is_future:
        raise ValueError(f"{symbol}: not a future in the simulated venue's symbol table")
    return listing_facts(found[0])


def _sim_sessions(
    symbols: tuple[str, ...], days: int, seed: int, start: date
) -> Iterator[tuple[date, list[BarView]]]:
    from broker.sim.bars import session_bars, spec_for
    from broker.sim.sessions import is_trading_day
    from engine.strategy.bars import view_of

    spec = spec_for(symbols[0])
    day, made = start, 0
    while made < days:
        if is_trading_day(spec, day):
            bars = [view_of(b) for s in symbols for b in session_bars(s, day, seed=seed)]
            bars.sort(key=lambda b: (b.stamp, b.symbol))
            made += 1
            yield day, bars
        day += timedelta(days=1)


BARS_CSV_HEADER = "symbol,ts,seconds,open,high,low,close,volume"


def read_bars_csv(path: Path) -> list[Bar]:
    """Bars from CSV with a header: symbol,ts,seconds,open,high,low,close,volume (ts ISO 8601
    with a UTC offset). A bad row is an error naming the line."""
    from contracts.market import Bar

    bars: list[Bar] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                bars.append(
                    Bar(
                        symbol=row["symbol"],
                        ts=datetime.fromisoformat(row["ts"]),
                        seconds=int(row["seconds"]),
                        open=Decimal(row["open"]),
                        high=Decimal(row["high"]),
                        low=Decimal(row["low"]),
                        close=Decimal(row["close"]),
                        volume=Decimal(row.get("volume") or 0),
                    )
                )
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                raise ValueError(f"{path}: line {number}: {str(exc).splitlines()[0]}") from None
    return bars


def _file_sessions(config: StrategyConfig, bars: list[Bar]) -> list[tuple[date, list[BarView]]]:
    from engine.strategy.backtest import one_minute_bars
    from engine.strategy.sessions import trading_day

    by_day: dict[date, list[Bar]] = {}
    for bar in sorted(bars, key=lambda b: (b.ts, b.symbol)):
        by_day.setdefault(trading_day(config.session, bar.ts), []).append(bar)
    return [(day, one_minute_bars(rows)) for day, rows in sorted(by_day.items())]


def cmd_backtest(args: argparse.Namespace) -> int:
    from contracts.config import load_config
    from engine.strategy.backtest import run_backtest, write_outputs
    from engine.strategy.config import StrategyConfig

    try:
        config = StrategyConfig(enabled=_names(args.strategies), symbols=_names(args.symbols))
        start = date.fromisoformat(args.start)
        facts = {s: _facts(s, start) for s in config.symbols}
        if args.bars:
            sessions: Any = _file_sessions(config, read_bars_csv(Path(args.bars)))
            source = f"file {Path(args.bars).name}"
        else:
            sessions = _sim_sessions(config.symbols, args.days, args.seed, start)
            source = "sim"
        desk = load_config(Path(args.config).expanduser() if args.config else None)
        risk = desk.risk.model_copy(update={"max_notional": Decimal(args.max_notional)})
        result = run_backtest(config, sessions, facts, equity=Decimal(args.equity), risk=risk)
    except (ValueError, OSError) as exc:
        return _fail(str(exc).splitlines()[0])
    meta = {
        "source": source,
        "seed": args.seed,
        "start": start.isoformat(),
        "strategies": list(config.enabled),
        "symbols": list(config.symbols),
        "equity": str(args.equity),
        "max_notional": str(args.max_notional),
    }
    out = Path(args.out)
    for path in write_outputs(result, out, meta):
        print(f"wrote {path}")
    live = result.live_trades
    templates = sorted({t.strategy for t in live})
    print(
        f"{len(result.sessions)} sessions, {result.bars} bars, {len(live)} trades "
        f"({', '.join(templates) or 'none'}), {len(result.learning)} learning events"
    )
    return 0


# --- journal and learning ------------------------------------------------------------------------


def _records(args: argparse.Namespace) -> list[StrategyRecord]:
    """Records from --file (a records.jsonl or an audit store), else the data dir's log."""
    from contracts.config import load_config
    from engine.audit import open_read_only
    from engine.strategy.store import RECORDS_FILE, read_log, records_from_beads

    if args.file:
        path = Path(args.file).expanduser()
        if path.suffix == ".sqlite":
            store = open_read_only(path)
            try:
                return list(records_from_beads((row.kind, row.payload) for row in store.rows()))
            finally:
                store.close()
        return list(read_log(path))
    config = load_config(Path(args.config).expanduser() if args.config else None)
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else config.resolved_data_dir()
    return list(read_log(data_dir / RECORDS_FILE))


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected an ISO date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_journal(args: argparse.Namespace) -> int:
    from engine.audit import AuditUnavailable
    from engine.strategy.journal import journal_line
    from engine.strategy.records import DecisionRecord

    try:
        since = _since(args.since)
        records = _records(args)
    except (ValueError, OSError, AuditUnavailable) as exc:
        return _fail(str(exc))
    shown = 0
    for record in records:
        if isinstance(record, DecisionRecord) and (since is None or record.ts >= since):
            print(journal_line(record))
            shown += 1
    if not shown:
        print("no journal lines recorded" + (f" since {since.isoformat()}" if since else ""))
    return 0


def learning_state(records: list[StrategyRecord]) -> dict[str, dict[str, Any]]:
    """Each strategy's standing, rebuilt from its trades and learning records."""
    from engine.strategy.config import StrategyConfig
    from engine.strategy.learning import LearningLoop
    from engine.strategy.records import LearningRecord, TradeRecord

    loop = LearningLoop(StrategyConfig().learning)
    loop.restore(r for r in records if isinstance(r, TradeRecord | LearningRecord))
    last: dict[str, LearningRecord] = {}
    for r in records:
        if isinstance(r, LearningRecord):
            last[r.strategy] = r
    out: dict[str, dict[str, Any]] = {}
    for name in loop.strategies():
        row: dict[str, Any] = loop.stats(name).model_dump(mode="json")
        change = last.get(name)
        row["last_change"] = (
            None if change is None else f"{change.ts.isoformat()} {change.change}: {change.reason}"
        )
        out[name] = row
    return out


def cmd_learning(args: argparse.Namespace) -> int:
    from engine.audit import AuditUnavailable

    try:
        state = learning_state(_records(args))
    except (ValueError, OSError, AuditUnavailable) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
        return 0
    if not state:
        print("no strategy has closed a trade yet")
        return 0
    print(
        f"{'strategy':<9}{'trades':>7}{'win %':>7}{'exp $':>9}{'losses':>7}{'friction':>9}  state"
    )
    for name, row in state.items():
        standing = "QUARANTINED" if row["quarantined"] else "active"
        print(
            f"{name:<9}{row['trades']:>7}{row['win_rate'] * 100:>6.0f}%"
            f"{row['expectancy_usd']:>9.2f}{row['consecutive_losses']:>7}"
            f"{row['friction'] * 100:>8.0f}%  {standing}"
        )
    return 0


def register(sub: Any) -> None:
    """Add `backtest`, `journal` and `learning` to the `deskgate` subcommands."""
    p = sub.add_parser("backtest", help="run the bot's strategies over simulated or recorded bars")
    p.add_argument("--strategies", default="K1,K2,K3,K4,K5", help="e.g. K1,K2,K3,K4,K5")
    p.add_argument("--symbols", default="MES", help="futures symbols, e.g. MES")
    p.add_argument("--days", type=int, default=5, help="simulated sessions (default 5)")
    p.add_argument("--seed", type=int, default=7, help="simulated market seed")
    p.add_argument("--start", default=DEFAULT_START.isoformat(), help="first session (ISO date)")
    p.add_argument("--equity", default="10000", help="account equity for sizing (USD)")
    p.add_argument("--bars", help="CSV of recorded bars instead of the simulated venue")
    p.add_argument("--config", help="TOML config whose [risk] limits the engine checks apply")
    p.add_argument(
        "--max-notional",
        default="150000",
        help="engine notional cap for the run (USD; one MES is about $30,000 of notional)",
    )
    p.add_argument("--out", required=True, help="directory for the three output files")
    p.set_defaults(func=cmd_backtest)
    for name, func, helptext in (
        ("journal", cmd_journal, "print the bot's decision journal"),
        ("learning", cmd_learning, "print each strategy's learning state"),
    ):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--config", help="TOML config file")
        q.add_argument("--data-dir", help="where the bot's records live")
        q.add_argument("--file", help="a records.jsonl or an audit store (.sqlite)")
        if name == "journal":
            q.add_argument("--since", help="only lines at or after this ISO date/time (UTC)")
        else:
            q.add_argument("--json", action="store_true", help="machine-readable output")
        q.set_defaults(func=func)
