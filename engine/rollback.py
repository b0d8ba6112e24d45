"""Rollback rules: NAV tracking, automatic triggers, flat/NAV verification, the incident report."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from contracts.config import KillConfig
from contracts.enums import Mode, TradingState
from contracts.events import RollbackCompleted
from engine.metrics import pct_change, probabilistic_sharpe
from engine.results import CommandResult

NAV_RETURNS = 2000


@dataclass
class NavTracker:
    """NAV since the session started: start, peak, last, and the returns between samples."""

    start: Decimal | None = None
    peak: Decimal | None = None
    last: Decimal | None = None
    returns: deque[float] = field(default_factory=lambda: deque(maxlen=NAV_RETURNS))

    def update(self, nav: Decimal | None) -> None:
        if nav is None or nav <= 0:
            return
        if self.start is None:
            self.start = nav
        if self.last is not None and nav != self.last:
            self.returns.append(float((nav - self.last) / self.last))
        self.peak = nav if self.peak is None else max(self.peak, nav)
        self.last = nav

    @property
    def pnl_pct(self) -> Decimal | None:
        if self.start is None or self.last is None:
            return None
        return pct_change(self.start, self.last)

    @property
    def drawdown_pct(self) -> Decimal | None:
        if self.peak is None or self.last is None:
            return None
        return (self.peak - self.last) / self.peak * 100


def rollback_reason(
    nav: NavTracker, pacing_last_hour: int, failures_last_hour: int, kill: KillConfig
) -> str | None:
    """Why an automatic rollback must start now, or None.

    P&L below rollback_pnl_pct of the session-start NAV, drawdown from the peak above
    rollback_drawdown_pct, PSR below rollback_psr_min (once psr_min_samples returns exist),
    more pacing violations or connection failures in the last hour than allowed.
    """
    pnl = nav.pnl_pct
    if pnl is not None and pnl < kill.rollback_pnl_pct:
        return f"session P&L {pnl:.2f}% < {kill.rollback_pnl_pct}%"
    dd = nav.drawdown_pct
    if dd is not None and dd > kill.rollback_drawdown_pct:
        return f"drawdown {dd:.2f}% > {kill.rollback_drawdown_pct}%"
    if len(nav.returns) >= kill.psr_min_samples:
        psr = probabilistic_sharpe(list(nav.returns))
        if psr is not None and psr < kill.rollback_psr_min:
            return f"PSR {psr:.3f} < {kill.rollback_psr_min:g} over {len(nav.returns)} returns"
    if pacing_last_hour > kill.max_pacing_violations_per_hour:
        return f"{pacing_last_hour} pacing violations in an hour"
    if failures_last_hour > kill.max_connection_failures_per_hour:
        return f"{failures_last_hour} connection failures in an hour"
    return None


@dataclass(frozen=True)
class RollbackCheck:
    verified: bool
    flat: bool
    nav_change_pct: Decimal | None
    problems: tuple[str, ...]


def verify_rollback(
    positions: Mapping[str, Decimal],
    open_orders: int,
    nav_start: Decimal | None,
    nav_end: Decimal | None,
    tolerance_pct: Decimal,
) -> RollbackCheck:
    """Flat, no open orders, and NAV within `tolerance_pct` of the session start."""
    problems: list[str] = []
    held = {s: q for s, q in positions.items() if q != 0}
    if held:
        problems.append("not flat: " + ", ".join(f"{s} {q}" for s, q in sorted(held.items())))
    if open_orders:
        problems.append(f"{open_orders} open order(s) at the broker")
    change = None
    if nav_start is None or nav_end is None:
        problems.append("NAV unknown: cannot compare with the session start")
    else:
        change = pct_change(nav_start, nav_end)
        if change is None or abs(change) > tolerance_pct:
            problems.append(
                f"NAV moved {change:.3f}% since the session start (max {tolerance_pct}%)"
            )
    return RollbackCheck(not problems, not held, change, tuple(problems))


class RollbackRunner(Protocol):
    """What the incident report needs from whoever runs the rollback (the Engine facade)."""

    async def rollback(
        self, reason: str, actor: str = ..., *, automatic: bool = ..., timeout_s: float = ...
    ) -> CommandResult: ...

    @property
    def last_rollback(self) -> RollbackCompleted | None: ...

    def snapshot(self) -> SnapshotLike: ...


class SnapshotLike(Protocol):
    @property
    def connection(self) -> ConnectionLike: ...
    @property
    def mode(self) -> Mode: ...
    @property
    def trading_state(self) -> TradingState: ...


class ConnectionLike(Protocol):
    @property
    def broker(self) -> str: ...
    @property
    def account_id(self) -> str: ...


def incident_report(done: RollbackCompleted, context: Mapping[str, str]) -> str:
    """A markdown incident report for one rollback."""
    lines = [
        f"# Incident report: rollback {'VERIFIED' if done.verified else 'NOT VERIFIED'}",
        "",
        f"* When: {done.ts_event.isoformat(timespec='seconds')}",
        f"* Reason: {done.reason}",
        f"* Started by: {done.actor}",
        f"* Duration: {done.duration_s:.2f} s",
        f"* Flat: {'yes' if done.flat else 'no'}"
        + ("" if done.flat else f" ({', '.join(f'{s} {q}' for s, q in done.positions.items())})"),
        f"* Open orders at the broker after: {done.open_orders}",
        f"* NAV at session start: {done.nav_start if done.nav_start is not None else 'unknown'}",
        f"* NAV after: {done.nav_end if done.nav_end is not None else 'unknown'}",
        "* NAV change: "
        + (f"{done.nav_change_pct:.3f}%" if done.nav_change_pct is not None else "unknown"),
    ]
    lines += [f"* {k}: {v}" for k, v in context.items()]
    if done.problems:
        lines += ["", "## Problems", "", *(f"* {p}" for p in done.problems)]
    lines += [
        "",
        "## Steps",
        "",
        "1. Kill switch thrown (HALTED): no new entries; global cancel until the broker "
        "confirmed no working orders.",
        "2. Positions flattened with risk-reducing market orders (audited flatten exemption).",
        "3. Verified at the broker: positions, open orders, NAV against the session start.",
        "",
        "The audit log holds ROLLBACK_STARTED and ROLLBACK_COMPLETED beads with these numbers.",
        "",
    ]
    return "\n".join(lines)


def write_incident(out_dir: Path, done: RollbackCompleted, context: Mapping[str, str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"INCIDENT_{done.ts_event.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(incident_report(done, context), encoding="utf-8")
    return path


async def rollback_and_report(
    engine: RollbackRunner, reason: str, actor: str, out_dir: Path, *, automatic: bool = False
) -> tuple[CommandResult, Path | None]:
    """Run the engine's rollback and write INCIDENT_<time>.md (the console's rollback key)."""
    result = await engine.rollback(reason, actor, automatic=automatic)
    done = engine.last_rollback
    if done is None:
        return result, None
    snap = engine.snapshot()
    context = {
        "Broker": f"{snap.connection.broker} ({snap.connection.account_id or 'account unknown'})",
        "Mode": snap.mode.value,
        "Trading state after": snap.trading_state.value,
    }
    return result, write_incident(out_dir, done, context)
