"""`deskgate fill-report`: the fill journal and the slippage reconciler, printed for people."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from contracts.events import AuditedEvent
from engine.fill_journal import FillJournalRow, SlippageDrift, fill_journal, reconcile_slippage

Format = Literal["table", "csv", "json"]
COLUMNS = (
    "ts",
    "intent_id",
    "strategy",
    "style",
    "symbol",
    "leg",
    "side",
    "quantity",
    "price",
    "decision_price",
    "touch_at_send",
    "slippage_ticks",
    "slippage_usd",
    "intent_to_submit_ms",
    "submit_to_ack_ms",
    "ack_to_fill_ms",
    "commission",
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_fill_report(
    events: Iterable[AuditedEvent],
    *,
    fmt: Format = "table",
    since: datetime | None = None,
    modelled_ticks: Mapping[str, Decimal] | None = None,
    bound_ticks: Decimal = Decimal("1"),
    width: int = 160,
) -> str:
    """The journal (and, for the table, the slippage check under it) as text."""
    rows = fill_journal(events, since=since)
    drifts = reconcile_slippage(rows, modelled_ticks or {}, bound_ticks=bound_ticks)
    if fmt == "json":
        payload = {
            "fills": [{k: _cell(v) for k, v in asdict(r).items()} for r in rows],
            "slippage": [{k: _cell(v) for k, v in asdict(d).items()} for d in drifts],
        }
        return json.dumps(payload, indent=1)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([_cell(getattr(r, c)) for c in COLUMNS])
        return out.getvalue()
    return _tables(rows, drifts, width)


def _add_row(table: Table, *cells: str) -> None:
    """Cells are data: never read as markup, control characters shown escaped."""
    table.add_row(
        *(Text(c.encode("unicode_escape").decode() if not c.isprintable() else c) for c in cells)
    )


def _tables(rows: list[FillJournalRow], drifts: list[SlippageDrift], width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    fills = Table(title=f"fills ({len(rows)})", show_edge=False)
    for name in ("time", "intent", "sym", "leg", "side", "qty", "price", "ref", "slip t", "slip $"):
        fills.add_column(name, justify="right" if name in ("qty", "price") else "left")
    for name in ("i→s ms", "s→a ms", "a→f ms", "comm"):
        fills.add_column(name, justify="right")
    for r in rows:
        _add_row(
            fills,
            r.ts.strftime("%H:%M:%S"),
            r.intent_id,
            r.symbol,
            r.leg.value,
            r.side.value,
            _cell(r.quantity),
            _cell(r.price),
            _cell(r.decision_price if r.decision_price is not None else r.touch_at_send),
            _cell(r.slippage_ticks),
            _cell(r.slippage_usd),
            _cell(r.intent_to_submit_ms),
            _cell(r.submit_to_ack_ms),
            _cell(r.ack_to_fill_ms),
            _cell(r.commission),
        )
    console.print(fills)
    check = Table(title="slippage against the model (entries, ticks)", show_edge=False)
    for name in ("symbol", "style", "fills", "observed", "model", "verdict"):
        check.add_column(name)
    for d in drifts:
        verdict = "DRIFT" if d.drifted else ("too few" if d.fills < 5 else "ok")
        _add_row(
            check,
            d.symbol,
            d.style,
            str(d.fills),
            str(d.observed_mean_ticks),
            str(d.modelled_ticks),
            verdict,
        )
    console.print(check)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()
