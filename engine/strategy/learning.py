"""The learning loop: per-strategy statistics, EUC friction, quarantine, outcome attribution."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from engine.strategy.config import LearningConfig
from engine.strategy.records import (
    LearningChange,
    LearningRecord,
    StrategyStats,
    TradeRecord,
)

ATTRIBUTION: dict[str, str] = {
    "A0": "clean win: the target was hit as planned",
    "A1": "managed win: closed in profit by the trade manager before the target",
    "A2": "scratch: closed within costs of break-even (often a break-even stop)",
    "A3": "thesis exit at a loss: the reason for the trade failed and it was cut early",
    "A4": "give-back: ran at least half a risk unit in favour, then lost",
    "A5": "clean loss: stopped without meaningful progress (the read was wrong)",
    "A6": "time stop at a loss: no follow-through",
    "A7": "volatility exit: a violent bar against the trade",
    "A8": "execution: slippage cost more than a quarter of the planned risk",
    "A9": "external: kill switch, manual close or session end",
}


def attribute(
    *,
    exit_reason: str,
    pnl_usd: Decimal,
    risk_usd: Decimal,
    mfe_r: float,
    slippage_usd: Decimal,
    scratch_usd: Decimal,
) -> str:
    """The A0–A9 code for one closed trade (first matching rule in this order)."""
    if exit_reason in ("kill", "manual", "session_end"):
        return "A9"
    if risk_usd > 0 and slippage_usd > risk_usd / 4:
        return "A8"
    if abs(pnl_usd) <= scratch_usd:
        return "A2"
    if pnl_usd > 0:
        return "A0" if exit_reason == "target" else "A1"
    if exit_reason == "volatility":
        return "A7"
    if exit_reason == "time":
        return "A6"
    if exit_reason == "thesis":
        return "A3"
    return "A4" if mfe_r >= 0.5 else "A5"


@dataclass
class _Standing:
    trades: int = 0
    wins: int = 0
    window: deque[float] = field(default_factory=deque)
    consecutive_losses: int = 0
    consecutive_wins: int = 0
    shadow_wins_in_row: int = 0
    friction: float = 0.0
    quarantined: bool = False


class LearningLoop:
    """Tracks every strategy's live record and decides throttling and quarantine.

    * Friction: with at least `min_trades_for_throttle` live trades and a win rate under
      `throttle_win_rate`, EUC costs rise by `friction` × the trade's risk, scaled linearly from
      `friction_min` (just under the threshold) to `friction_max` (at a 0 % win rate).
    * Quarantine: `quarantine_consecutive_losses` live losses in a row, or a negative expectancy
      over the last `expectancy_window` live trades (once there are `min_trades_for_expectancy`).
      A quarantined strategy keeps deciding in shadow; its entries never reach the queue.
    * Re-enable: `reenable_shadow_wins` shadow wins in a row. The expectancy window starts afresh
      so the losses that caused the quarantine do not quarantine it again at once (the lifetime
      trade count and win rate are kept).
    """

    def __init__(self, config: LearningConfig) -> None:
        self.config = config
        self._standing: dict[str, _Standing] = {}

    def _of(self, strategy: str) -> _Standing:
        st = self._standing.get(strategy)
        if st is None:
            st = self._standing[strategy] = _Standing(
                window=deque(maxlen=self.config.expectancy_window)
            )
        return st

    def friction(self, strategy: str) -> float:
        return self._of(strategy).friction

    def quarantined(self, strategy: str) -> bool:
        return self._of(strategy).quarantined

    def stats(self, strategy: str) -> StrategyStats:
        st = self._of(strategy)
        window = list(st.window)
        return StrategyStats(
            trades=st.trades,
            wins=st.wins,
            win_rate=round(st.wins / st.trades, 4) if st.trades else 0.0,
            expectancy_usd=round(sum(window) / len(window), 4) if window else 0.0,
            consecutive_losses=st.consecutive_losses,
            consecutive_wins=st.consecutive_wins,
            shadow_wins_in_row=st.shadow_wins_in_row,
            friction=round(st.friction, 4),
            quarantined=st.quarantined,
        )

    def strategies(self) -> list[str]:
        return sorted(self._standing)

    def record_trade(self, trade: TradeRecord) -> list[LearningRecord]:
        """Apply one closed trade; returns the standing changes it caused (maybe none)."""
        st = self._of(trade.strategy)
        win = trade.pnl_usd > 0
        out: list[LearningRecord] = []
        if trade.mode == "shadow":
            if not st.quarantined:
                return out
            st.shadow_wins_in_row = st.shadow_wins_in_row + 1 if win else 0
            if st.shadow_wins_in_row >= self.config.reenable_shadow_wins:
                st.quarantined = False
                st.shadow_wins_in_row = 0
                st.consecutive_losses = 0
                st.window.clear()
                out.append(
                    self._change(
                        trade,
                        "REENABLED",
                        f"{self.config.reenable_shadow_wins} shadow wins in a row",
                    )
                )
            return out
        st.trades += 1
        st.wins += win
        st.window.append(float(trade.pnl_usd))
        st.consecutive_losses = 0 if win else st.consecutive_losses + 1
        st.consecutive_wins = st.consecutive_wins + 1 if win else 0
        cfg = self.config
        friction = 0.0
        win_rate = st.wins / st.trades
        if st.trades >= cfg.min_trades_for_throttle and win_rate < cfg.throttle_win_rate:
            shortfall = (cfg.throttle_win_rate - win_rate) / cfg.throttle_win_rate
            friction = cfg.friction_min + (cfg.friction_max - cfg.friction_min) * shortfall
        if friction != st.friction:
            change: LearningChange = (
                "THROTTLED"
                if st.friction == 0
                else "UNTHROTTLED"
                if friction == 0
                else "THROTTLE_CHANGED"
            )
            st.friction = friction
            out.append(
                self._change(trade, change, f"win rate {win_rate:.0%} over {st.trades} trades")
            )
        if not st.quarantined:
            expectancy = sum(st.window) / len(st.window)
            reason = ""
            if st.consecutive_losses >= cfg.quarantine_consecutive_losses:
                reason = f"{st.consecutive_losses} losses in a row"
            elif len(st.window) >= cfg.min_trades_for_expectancy and expectancy < 0:
                reason = f"negative expectancy ${expectancy:.2f} over {len(st.window)} trades"
            if reason:
                st.quarantined = True
                st.shadow_wins_in_row = 0
                out.append(self._change(trade, "QUARANTINED", reason))
        return out

    def _change(self, trade: TradeRecord, change: LearningChange, reason: str) -> LearningRecord:
        return LearningRecord(
            ts=trade.exit_time,
            strategy=trade.strategy,
            change=change,
            reason=reason,
            stats=self.stats(trade.strategy),
        )

    def restore(self, records: Iterable[TradeRecord | LearningRecord]) -> None:
        """Rebuild from stored records (in order): trades replay the statistics; each learning
        record then sets the standing it recorded, so the stored decision wins over a replay
        under a changed config."""
        for record in records:
            if isinstance(record, TradeRecord):
                self.record_trade(record)
            else:
                st = self._of(record.strategy)
                st.quarantined = record.stats.quarantined
                st.friction = record.stats.friction
                st.shadow_wins_in_row = record.stats.shadow_wins_in_row
                st.consecutive_losses = record.stats.consecutive_losses
