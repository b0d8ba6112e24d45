"""What `deskgate fill-report` runs: the journal and the slippage check from a read-only store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console.cli.options import CliError, load
from console.fill_report import Format, render_fill_report
from contracts.events import AuditedEvent, parse_event
from engine.audit import AuditUnavailable, open_read_only
from engine.audit_verify import BeadRow


def parse_since(text: str, now: datetime) -> datetime:
    """An ISO time (naive = UTC) or an age such as 90s, 30m, 2h, 1d; CliError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip()
    if value[-1:] in units and value[:-1].isdigit():
        return now - timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"--since: {text!r} is neither an ISO time nor an age like 2h") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def newest_store(data_dir: Path) -> Path:
    candidates = sorted(data_dir.rglob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not candidates:
        raise AuditUnavailable(f"no audit store under {data_dir}")
    return candidates[0]


def readable_events(rows: Iterable[BeadRow]) -> Iterator[AuditedEvent]:
    """The store's events, oldest first; a bead that no longer parses is skipped (and said)."""
    for row in rows:
        try:
            yield parse_event(row.payload)
        except ValueError as exc:
            print(f"deskgate: seq {row.seq} skipped: {str(exc).splitlines()[0]}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    config = load(args)
    since = parse_since(args.since, datetime.now(UTC)) if args.since else None
    path = Path(args.file).expanduser() if args.file else newest_store(config.resolved_data_dir())
    fmt: Format = "csv" if args.csv else "json" if args.json else "table"
    store = open_read_only(path)
    try:
        text = render_fill_report(
            readable_events(store.rows()),
            fmt=fmt,
            since=since,
            modelled_ticks=config.execution.modelled_slippage_ticks,
            bound_ticks=config.execution.slippage_bound_ticks,
        )
    finally:
        store.close()
    print(text, end="" if text.endswith("\n") else "\n")
    return 0
