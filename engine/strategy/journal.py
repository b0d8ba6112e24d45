"""The decision journal: one plain-English line per decision, non-trades included."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from decimal import Decimal

from engine.strategy.records import DecisionAction, DecisionRecord, RecordSink
from engine.strategy.templates import Skip

RECENT_LINES = 200


def usd(amount: Decimal) -> str:
    """-$19.98 / $21.26."""
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def journal_line(record: DecisionRecord) -> str:
    """`2026-11-30 14:31 MES [LIVE] K2 skipped: ...` (UTC)."""
    return f"{record.ts:%Y-%m-%d %H:%M} {record.symbol} [{record.mode}] {record.text}"


class Journal:
    """Writes decisions to the sink. A skip whose reason code repeats the strategy's previous
    one is written again only every `heartbeat_bars` bars, so a quiet hour reads as a few lines
    ("K2 skipped: no failed break above 5,031.25 in the last 6 bars"), not sixty."""

    def __init__(self, sink: RecordSink, heartbeat_bars: int) -> None:
        self._sink = sink
        self._heartbeat = heartbeat_bars
        self._last: dict[tuple[str, str], tuple[str, int]] = {}
        self.recent: deque[DecisionRecord] = deque(maxlen=RECENT_LINES)
        self.last_by_strategy: dict[str, DecisionRecord] = {}

    def skip(
        self, ts: datetime, strategy: str, symbol: str, mode: str, skip: Skip, bar_index: int
    ) -> None:
        key = (strategy, symbol)
        last = self._last.get(key)
        if last is not None and last[0] == skip.code and bar_index - last[1] < self._heartbeat:
            return
        self._last[key] = (skip.code, bar_index)
        self.write(ts, strategy, symbol, mode, "SKIP", skip.code, skip.text)

    def write(
        self,
        ts: datetime,
        strategy: str,
        symbol: str,
        mode: str,
        action: DecisionAction,
        code: str,
        text: str,
        intent_id: str | None = None,
    ) -> DecisionRecord:
        record = DecisionRecord(
            ts=ts,
            strategy=strategy,
            symbol=symbol,
            mode=mode,
            action=action,
            code=code,
            text=text[:1000],
            intent_id=intent_id,
        )
        if action != "SKIP":
            self._last.pop((strategy, symbol), None)
        self.recent.append(record)
        self.last_by_strategy[strategy] = record
        self._sink(record)
        return record
