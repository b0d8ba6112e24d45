"""Broker facts about contracts and the market: contract details, bars, what-if margin previews."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.base import Frozen, NonNegativeDecimal, PositiveDecimal, Symbol


class ContractFacts(Frozen):
    """One contract as the broker describes it (IB contract details): the instrument master's row.

    Risk, sizing, tick rounding and the evidence panel use these facts, never an intent's own.
    """

    con_id: int = Field(gt=0)
    symbol: Symbol
    sec_type: str = Field(pattern=r"^(STK|FUT|OPT|CASH|IND|CFD)$")
    exchange: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    multiplier: PositiveDecimal
    min_tick: PositiveDecimal
    price_magnifier: int = Field(default=1, ge=1)
    size_increment: PositiveDecimal = Decimal("1")
    expiry: date | None = None
    """Last trade date for futures (IB lastTradeDateOrContractMonth); None for stocks."""
    trading_class: str = ""
    primary_exchange: str = ""
    long_name: str = ""


class FuturesCalendar(Frozen):
    """A future's dates for the trader: `MESZ6 · exp 2026-12-18 · rolls 2026-12-10`."""

    con_id: int = Field(gt=0)
    symbol: Symbol
    local_symbol: str
    """Symbol, month code and the year's last digit (MESZ6), as CME and TWS show it."""
    expiry: date
    roll_date: date
    """From this day on, entries are refused CONTRACT_ROLLING and the front month is the next."""
    tick_value: PositiveDecimal
    """Dollars per tick per contract: min tick x multiplier (MES: 0.25 x 5 = 1.25)."""
    multiplier: PositiveDecimal
    front: bool
    """The nearest expiry of its symbol that has not reached its roll date."""


class Bar(Frozen):
    """One OHLCV bar. `ts` is the bar's open time (UTC)."""

    symbol: Symbol
    ts: AwareDatetime
    seconds: int = Field(gt=0)
    """Bar length: 5 for real-time bars, 60 for 1-minute bars, ..."""
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    close: PositiveDecimal
    volume: NonNegativeDecimal = Decimal(0)
    wap: Decimal | None = None
    count: int = Field(default=0, ge=0)


class BarRequest(Frozen):
    """A historical bars request, as IB's reqHistoricalData takes it."""

    duration: str = Field(default="1 D", pattern=r"^[0-9]{1,4} [SDWMY]$")
    bar_size: str = Field(
        default="1 min", pattern=r"^[0-9]{1,2} (secs?|mins?|hours?|day|week|month)$"
    )
    what_to_show: Literal["TRADES", "MIDPOINT", "BID", "ASK"] = "TRADES"
    use_rth: bool = False
    end: AwareDatetime | None = None
    """None means now."""


class MarginPreview(Frozen):
    """What an order would do to the account (IB whatIf OrderState)."""

    init_margin_change: Decimal
    maint_margin_change: Decimal
    equity_with_loan_after: Decimal
    commission: Decimal | None = None
    currency: str = "USD"
    warning: str = ""
