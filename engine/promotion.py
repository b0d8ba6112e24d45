"""Go-live: promotion rules (SHADOW -> LIVE on evidence and a T2 approval), gates, auto-approval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from contracts.config import Config
from contracts.enums import Mode, TradingState
from contracts.events import (
    AutoApprovePolicySet,
    PromotionApproved,
    PromotionRefused,
    PromotionRequested,
)
from engine.gates import GateResult
from engine.metrics import sharpe
from engine.results import CommandResult

if TYPE_CHECKING:
    from engine.book import Book
    from engine.recorder import EventRecorder
    from engine.session import BrokerSession

APPROVAL_TIER = "T2"
"""Promotion needs a second-tier approval: a different person from the one who asked."""


class Stage(StrEnum):
    SHADOW = "SHADOW"
    LIVE = "LIVE"


def stage_of(book: Book, strategy: str) -> Stage:
    """SHADOW unless an approved promotion (an audit bead) made it LIVE."""
    return Stage(book.strategy_stages.get(strategy, Stage.SHADOW.value))


@dataclass(frozen=True)
class SessionRecord:
    """One shadow session of a strategy: what it would have done, and how often it was overruled."""

    day: date
    regime: str
    pnl: Decimal
    max_drawdown_pct: Decimal | None
    sharpe: float | None
    would_have_killed: int
    """How many times the kill switch would have tripped."""
    decisions: int
    overrides: int
    """Decisions where the trader overrode the strategy."""


@dataclass(frozen=True)
class EvidenceBundle:
    strategy: str
    sessions: tuple[SessionRecord, ...]

    @property
    def regimes(self) -> frozenset[str]:
        return frozenset(s.regime for s in self.sessions)

    def summary(self) -> dict[str, str]:
        """The numbers a promotion request records."""
        s = self.sessions
        decisions = sum(x.decisions for x in s)
        drawdowns = [x.max_drawdown_pct for x in s if x.max_drawdown_pct is not None]
        daily = [float(x.pnl) for x in s]
        overall = sharpe(daily)
        return {
            "sessions": str(len(s)),
            "regimes": ",".join(sorted(self.regimes)),
            "max_drawdown_pct": str(max(drawdowns)) if drawdowns else "",
            "worst_day": str(min((x.pnl for x in s), default="")),
            "sharpe": "" if overall is None else f"{overall:.4f}",
            "would_have_killed": str(sum(x.would_have_killed for x in s)),
            "override_rate": f"{sum(x.overrides for x in s) / decisions:.4f}" if decisions else "",
        }


def missing_evidence(
    bundle: EvidenceBundle, min_sessions: int = 20, min_regimes: int = 2
) -> tuple[str, ...]:
    """What the bundle lacks for a promotion; empty when complete."""
    s = bundle.sessions
    out: list[str] = []
    if len(s) < min_sessions:
        out.append(f"sessions: {len(s)} of {min_sessions}")
    if len(bundle.regimes) < min_regimes:
        seen = ", ".join(sorted(bundle.regimes)) or "none"
        out.append(f"regimes: {len(bundle.regimes)} of {min_regimes} ({seen})")
    if s and any(x.max_drawdown_pct is None for x in s):
        n = sum(x.max_drawdown_pct is None for x in s)
        out.append(f"max drawdown not recorded for {n} session(s)")
    if s and any(x.sharpe is None for x in s):
        out.append(f"Sharpe not recorded for {sum(x.sharpe is None for x in s)} session(s)")
    if s and sum(x.decisions for x in s) == 0:
        out.append("override rate: no decisions recorded")
    if not s:
        out.append("worst day: no sessions")
    return tuple(out)


@dataclass(frozen=True)
class PromotionContext:
    """The engine's state that can veto a promotion, gathered at one instant."""

    stage: Stage
    kill_flags: tuple[str, ...]
    halted: bool
    unresolved_drifts: int
    requested_by: str | None
    """Who asked for the promotion now pending (None: no request)."""
    evidence_missing: tuple[str, ...]


def refusal_reasons(
    ctx: PromotionContext, to_stage: Stage, approver: str, tier: str
) -> tuple[str, ...]:
    """Why a promotion approval must be refused; empty means it may go ahead."""
    out: list[str] = []
    if to_stage is not Stage.LIVE or ctx.stage is not Stage.SHADOW:
        out.append(f"only SHADOW -> LIVE is a promotion (strategy is {ctx.stage})")
    if ctx.requested_by is None:
        out.append("no promotion request with an evidence bundle is pending")
    if ctx.kill_flags:
        out.append(f"kill flag active: {', '.join(ctx.kill_flags)}")
    if ctx.halted:
        out.append("trading is HALTED")
    if ctx.unresolved_drifts:
        out.append(f"{ctx.unresolved_drifts} unresolved reconciliation drift(s)")
    if ctx.evidence_missing:
        out.append("incomplete evidence: " + "; ".join(ctx.evidence_missing))
    if tier != APPROVAL_TIER:
        out.append(f"approval tier {tier or 'none'}: a promotion needs {APPROVAL_TIER}")
    if not approver.strip():
        out.append("approver not named")
    elif ctx.requested_by is not None and approver.strip() == ctx.requested_by:
        out.append("the requester cannot approve their own promotion")
    return tuple(out)


class GoLive:
    """Published gate results, the paper auto-approve policy, and promotion requests/approvals."""

    def __init__(
        self, recorder: EventRecorder, book: Book, session: BrokerSession, config: Config
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._config = config
        self.gates: tuple[GateResult, ...] | None = None

    def publish_gates(self, results: Sequence[GateResult]) -> None:
        """Store go-live gate results (evaluated by the composition root) for the snapshot."""
        self.gates = tuple(results)
        self._recorder.changed("gates")

    def record_auto_approve_policy(self, policy: AutoApprovePolicySet) -> CommandResult:
        """Record (durably) the policy a paper session approves under; refused in live mode."""
        if self._config.mode is Mode.LIVE or not self._session.is_paper:
            return CommandResult(False, "auto-approval is for paper sessions only", "LIVE")
        self._recorder.emit(policy, durable=True)
        return CommandResult(True, f"auto-approve policy {policy.policy} recorded")

    def request_promotion(
        self, bundle: EvidenceBundle, requester: str, to_stage: Stage = Stage.LIVE
    ) -> CommandResult:
        """Ask to promote a strategy; incomplete evidence is refused with what is missing."""
        golive = self._config.golive
        missing = missing_evidence(
            bundle, golive.min_promotion_sessions, golive.min_promotion_regimes
        )
        if missing or not requester.strip():
            reasons = missing or ("requester not named",)
            self._recorder.emit(
                PromotionRefused(
                    **self._recorder.now_pair(),
                    strategy=bundle.strategy,
                    to_stage=to_stage.value,
                    actor=requester,
                    reasons=reasons,
                )
            )
            return CommandResult(False, "evidence incomplete: " + "; ".join(reasons), "EVIDENCE")
        event = PromotionRequested(
            **self._recorder.now_pair(),
            strategy=bundle.strategy,
            from_stage=stage_of(self._book, bundle.strategy).value,
            to_stage=to_stage.value,
            requester=requester.strip(),
            evidence=bundle.summary(),
        )
        self._recorder.emit(event, durable=True)
        return CommandResult(True, f"promotion of {bundle.strategy} requested")

    def approve_promotion(
        self, strategy: str, approver: str, tier: str, to_stage: Stage = Stage.LIVE
    ) -> CommandResult:
        """Approve a pending promotion; vetoed by kill flags, HALTED, drift, or a wrong approver."""
        request = self._book.promotion_requests.get(strategy)
        ctx = PromotionContext(
            stage=stage_of(self._book, strategy),
            kill_flags=tuple(self._book.kill_flags),
            halted=self._book.trading_state is TradingState.HALTED,
            unresolved_drifts=len(self._book.drifts),
            requested_by=request.requester if request else None,
            evidence_missing=(),
        )
        reasons = refusal_reasons(ctx, to_stage, approver, tier)
        if reasons:
            self._recorder.emit(
                PromotionRefused(
                    **self._recorder.now_pair(),
                    strategy=strategy,
                    to_stage=to_stage.value,
                    actor=approver,
                    reasons=reasons,
                )
            )
            return CommandResult(False, "promotion refused: " + "; ".join(reasons), "REFUSED")
        self._recorder.emit(
            PromotionApproved(
                **self._recorder.now_pair(),
                strategy=strategy,
                to_stage=to_stage.value,
                approver=approver.strip(),
                tier=tier,
            ),
            durable=True,
        )
        return CommandResult(True, f"{strategy} promoted to {to_stage}")
