"""Go-live on the engine: published gate results, the paper auto-approve policy, promotions."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from contracts.enums import (
    Mode,
    TradingState,
)
from contracts.events import (
    AutoApprovePolicySet,
    PromotionApproved,
    PromotionRefused,
    PromotionRequested,
)
from engine.bus import StateChanged
from engine.core import EngineCore
from engine.gates import GateResult
from engine.promotion import (
    EvidenceBundle,
    PromotionContext,
    Stage,
    missing_evidence,
    refusal_reasons,
)
from engine.results import CommandResult

log = logging.getLogger("deskgate.engine")


class GoLiveMixin(EngineCore):
    # --- go-live: gates, paper auto-approval, promotion ---------------------------------------

    def publish_gates(self, results: Sequence[GateResult]) -> None:
        """Store go-live gate results (evaluated by the composition root) for `snapshot().gates`."""
        self._gates = tuple(results)
        self.bus.publish(StateChanged("gates"))

    @property
    def gate_results(self) -> tuple[GateResult, ...] | None:
        return self._gates

    def record_auto_approve_policy(self, policy: AutoApprovePolicySet) -> CommandResult:
        """Record (durably) the policy a paper session approves under; refused in live mode."""
        if self.config.mode is Mode.LIVE or not self._is_paper:
            return CommandResult(False, "auto-approval is for paper sessions only", "LIVE")
        self._emit(policy, durable=True)
        return CommandResult(True, f"auto-approve policy {policy.policy} recorded")

    def strategy_stage(self, strategy: str) -> Stage:
        """SHADOW unless an approved promotion (an audit bead) made it LIVE."""
        return Stage(self.book.strategy_stages.get(strategy, Stage.SHADOW.value))

    def request_promotion(
        self,
        bundle: EvidenceBundle,
        requester: str,
        to_stage: Stage = Stage.LIVE,
    ) -> CommandResult:
        """Ask to promote a strategy; incomplete evidence is refused with what is missing."""
        golive = self.config.golive
        missing = missing_evidence(
            bundle, golive.min_promotion_sessions, golive.min_promotion_regimes
        )
        if missing or not requester.strip():
            reasons = missing or ("requester not named",)
            self._emit(
                PromotionRefused(
                    **self._now_pair(),
                    strategy=bundle.strategy,
                    to_stage=to_stage.value,
                    actor=requester,
                    reasons=reasons,
                )
            )
            return CommandResult(False, "evidence incomplete: " + "; ".join(reasons), "EVIDENCE")
        event = PromotionRequested(
            **self._now_pair(),
            strategy=bundle.strategy,
            from_stage=self.strategy_stage(bundle.strategy).value,
            to_stage=to_stage.value,
            requester=requester.strip(),
            evidence=bundle.summary(),
        )
        self._emit(event, durable=True)
        return CommandResult(True, f"promotion of {bundle.strategy} requested")

    def approve_promotion(
        self, strategy: str, approver: str, tier: str, to_stage: Stage = Stage.LIVE
    ) -> CommandResult:
        """Approve a pending promotion; vetoed by kill flags, HALTED, drift, or a wrong approver."""
        request = self.book.promotion_requests.get(strategy)
        ctx = PromotionContext(
            stage=self.strategy_stage(strategy),
            kill_flags=tuple(self.book.kill_flags),
            halted=self.book.trading_state is TradingState.HALTED,
            unresolved_drifts=len(self.book.drifts),
            requested_by=request.requester if request else None,
            evidence_missing=(),
        )
        reasons = refusal_reasons(ctx, to_stage, approver, tier)
        if reasons:
            self._emit(
                PromotionRefused(
                    **self._now_pair(),
                    strategy=strategy,
                    to_stage=to_stage.value,
                    actor=approver,
                    reasons=reasons,
                )
            )
            return CommandResult(False, "promotion refused: " + "; ".join(reasons), "REFUSED")
        self._emit(
            PromotionApproved(
                **self._now_pair(),
                strategy=strategy,
                to_stage=to_stage.value,
                approver=approver.strip(),
                tier=tier,
            ),
            durable=True,
        )
        return CommandResult(True, f"{strategy} promoted to {to_stage}")
