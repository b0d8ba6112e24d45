"""Hand-built bars, MES facts and a recording sink for the strategy tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from contracts.market import ContractFacts
from engine.strategy.bars import BarView

DAY = date(2026, 11, 3)
RTH_OPEN = datetime(2026, 11, 3, 14, 30, tzinfo=UTC)
"""08:30 Chicago (CST) on DAY."""

MES = ContractFacts(
    con_id=620_000_001,
    symbol="MES",
    sec_type="FUT",
    exchange="CME",
    currency="USD",
    multiplier=Decimal(5),
    min_tick=Decimal("0.25"),
    expiry=date(2026, 12, 18),
    trading_class="MES",
)


def bar(
    minute: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float = 100.0,
    *,
    start: datetime = RTH_OPEN,
    seconds: int = 60,
    symbol: str = "MES",
) -> BarView:
    """A 1-minute bar `minute` minutes after `start`."""
    return BarView(symbol, start + timedelta(minutes=minute), seconds, o, h, lo, c, v)


def chop(n: int, mid: float = 5000.0, amp: float = 1.0, start_minute: int = 0) -> list[BarView]:
    """`n` bars oscillating around `mid` (a ranging tape)."""
    out = []
    for i in range(n):
        up = i % 2 == 0
        o = mid - amp / 2 if up else mid + amp / 2
        c = mid + amp / 2 if up else mid - amp / 2
        out.append(bar(start_minute + i, o, max(o, c) + 0.25, min(o, c) - 0.25, c))
    return out


class Recorder:
    """A RecordSink that keeps everything."""

    def __init__(self) -> None:
        self.records: list[object] = []

    def __call__(self, record: object) -> None:
        self.records.append(record)

    def of(self, kind: type) -> list:
        return [r for r in self.records if isinstance(r, kind)]
