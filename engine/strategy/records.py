"""What the strategy runtime records: decisions, closed trades, learning changes, shadow sessions.

Each record is a frozen model with a `kind`; the runtime hands them to a `RecordSink`. The audit
store keeps them as beads (one bead kind wrapping `record.model_dump(mode="json")`), and
`parse_record` turns a stored payload back into the record, so learning state survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, Field, TypeAdapter

from contracts.base import Frozen

DecisionAction = Literal["ENTER", "SKIP", "EXIT", "MODIFY", "CANCEL", "KILL", "SHADOW_ENTER"]
LearningChange = Literal["THROTTLED", "THROTTLE_CHANGED", "UNTHROTTLED", "QUARANTINED", "REENABLED"]
TradeMode = Literal["live", "shadow"]
ExitReason = Literal[
    "stop", "target", "thesis", "time", "volatility", "manual", "kill", "session_end"
]
"""The fixed vocabulary of exit reasons."""
EXIT_REASONS: tuple[str, ...] = get_args(ExitReason)


class DecisionRecord(Frozen):
    """One journal line: what a strategy decided on a bar and why, in plain English."""

    kind: Literal["STRATEGY_DECISION"] = "STRATEGY_DECISION"
    ts: AwareDatetime
    strategy: str
    symbol: str
    mode: str
    action: DecisionAction
    code: str
    text: str = Field(max_length=1000)
    intent_id: str | None = None


class TradeRecord(Frozen):
    """A closed trade (live or shadow) with its outcome attribution."""

    kind: Literal["STRATEGY_TRADE"] = "STRATEGY_TRADE"
    trade_id: str
    strategy: str
    via: str = ""
    mode: TradeMode
    symbol: str
    side: Literal["BUY", "SELL"]
    quantity: int
    entry_time: AwareDatetime
    exit_time: AwareDatetime
    entry_price: Decimal
    exit_price: Decimal
    stop_price: Decimal
    target_price: Decimal
    stop_ticks: int
    risk_usd: Decimal
    pnl_usd: Decimal
    """Net of commissions; slippage is in the fill prices."""
    r_multiple: float
    exit_reason: ExitReason
    attribution: str
    """A0–A9 (see engine.strategy.learning.ATTRIBUTION)."""
    mfe_r: float
    mae_r: float
    bars_held: int


class StrategyStats(Frozen):
    trades: int = 0
    wins: int = 0
    win_rate: float = 0.0
    expectancy_usd: float = 0.0
    """Mean net P&L per trade over the current expectancy window."""
    consecutive_losses: int = 0
    consecutive_wins: int = 0
    shadow_wins_in_row: int = 0
    friction: float = 0.0
    quarantined: bool = False


class LearningRecord(Frozen):
    """A change in a strategy's standing: throttle friction or quarantine."""

    kind: Literal["STRATEGY_LEARNING"] = "STRATEGY_LEARNING"
    ts: AwareDatetime
    strategy: str
    change: LearningChange
    reason: str
    stats: StrategyStats


class ShadowSessionRecord(Frozen):
    """One session of a strategy in shadow: the promotion evidence of seed 004."""

    kind: Literal["STRATEGY_SHADOW_SESSION"] = "STRATEGY_SHADOW_SESSION"
    strategy: str
    day: date
    regime: Literal["trend", "range"]
    pnl: Decimal
    max_drawdown_pct: Decimal
    sharpe: float | None
    would_have_killed: int
    decisions: int
    overrides: int = 0


StrategyRecord = Annotated[
    DecisionRecord | TradeRecord | LearningRecord | ShadowSessionRecord,
    Field(discriminator="kind"),
]
STRATEGY_RECORD: TypeAdapter[StrategyRecord] = TypeAdapter(StrategyRecord)
RECORD_KINDS = frozenset(
    {"STRATEGY_DECISION", "STRATEGY_TRADE", "STRATEGY_LEARNING", "STRATEGY_SHADOW_SESSION"}
)

RecordSink = Callable[[DecisionRecord | TradeRecord | LearningRecord | ShadowSessionRecord], None]


def parse_record(payload: str | bytes) -> StrategyRecord:
    """A record from its JSON payload (as stored in a bead)."""
    return STRATEGY_RECORD.validate_json(payload)
