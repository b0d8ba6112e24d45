"""Reconciliation on the engine: when it runs, how drift is raised, how the trader resolves it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal

from contracts.enums import (
    AlertLevel,
    DriftResolution,
    DriftSeverity,
    DriftType,
    LifecycleState,
    TradingState,
    Trigger,
)
from contracts.events import (
    DriftDetected,
    DriftResolved,
    OrderCancelConfirmed,
    PositionCorrected,
    ReconciliationRun,
    new_event_id,
)
from engine.bus import StateChanged
from engine.core import EngineCore
from engine.ports import BrokerUnavailable
from engine.reconcile import Difference, compare
from engine.results import CommandResult

log = logging.getLogger("deskgate.engine")


class ReconcilingMixin(EngineCore):
    async def reconcile_now(self) -> CommandResult:
        """Compare with the broker now (the trader's `R`)."""
        return await self.reconcile("manual")

    # --- reconciliation ------------------------------------------------------------------------

    async def _periodic_reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile.interval_s)
            if self._connected:
                await self.reconcile("periodic")

    def request_reconcile(self, reason: str, delay_s: float = 1.0) -> None:
        """Reconcile soon (coalesced): after fills, rejects and cancels the broker settles first."""
        if self._reconcile_timer is not None or not self._started:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._reconcile_timer = None
            self._spawn(self.reconcile(reason), "reconcile-soon")

        self._reconcile_timer = loop.call_later(delay_s, fire)

    async def reconcile(self, reason: str) -> CommandResult:
        """Compare positions, fills and order status with the broker; raise drift, fix nothing."""
        if not self._connected:
            return CommandResult(False, "broker disconnected: cannot reconcile", "DISCONNECTED")
        mono = self.clock.monotonic()
        runs = self._reconcile_runs
        while runs and mono - runs[0] >= 60:
            runs.popleft()
        if len(runs) >= self.config.reconcile.max_per_minute:
            self.request_reconcile(reason, delay_s=max(0.1, 60 - (mono - runs[0])))
            return CommandResult(False, "reconciliation rate limit: deferred", "RATE_LIMITED")
        runs.append(mono)
        async with self._reconcile_lock:
            seen = self._order_events
            try:
                positions = await self.broker.positions()
                open_orders = await self.broker.open_orders()
                account = await self.broker.account()
            except BrokerUnavailable as exc:
                return CommandResult(False, f"reconciliation failed: {exc}", "BROKER_UNAVAILABLE")
            if self._order_events != seen:
                # A fill or order update landed while the broker's answers were in flight: its
                # snapshot and the book are from different moments. Compare again shortly.
                self.request_reconcile(reason, delay_s=0.2)
                return CommandResult(False, "order events arrived mid-comparison", "RETRY")
            differences = compare(self.book, positions, open_orders, account)
            raised = self._raise_drifts(differences)
            self._emit(
                ReconciliationRun(
                    **self._now_pair(),
                    reason=reason,
                    drifts=len(differences),
                    positions=len(positions),
                    open_orders=len(open_orders),
                )
            )
        self._update_reducing_for_drift()
        self.bus.publish(StateChanged("reconciled"))
        if raised:
            return CommandResult(True, f"reconciled: {raised} new drift(s)", "DRIFT")
        if self.book.drifts:
            return CommandResult(True, f"reconciled: {len(self.book.drifts)} unresolved drift(s)")
        return CommandResult(True, "reconciled: engine and broker agree")

    def _raise_drifts(self, differences: list[Difference]) -> int:
        open_keys = {(d.drift_type.value, d.subject) for d in self.book.drifts.values()}
        raised = 0
        for diff in differences:
            if diff.fingerprint in self.book.accepted_drifts or diff.key in open_keys:
                continue
            drift = DriftDetected(
                **self._now_pair(),
                drift_id=new_event_id()[:12],
                drift_type=diff.drift_type,
                subject=diff.subject,
                engine_state=diff.engine_state,
                broker_state=diff.broker_state,
                severity=diff.severity,
            )
            self._emit(drift)
            open_keys.add(diff.key)
            raised += 1
            self._alert(
                AlertLevel.CRITICAL
                if diff.severity is DriftSeverity.CRITICAL
                else AlertLevel.WARNING,
                "DRIFT",
                f"{diff.drift_type} {diff.subject}: engine {_kv(diff.engine_state)}"
                f" / broker {_kv(diff.broker_state)}",
            )
        return raised

    def _update_reducing_for_drift(self) -> None:
        state = self.book.trading_state
        if self.book.drifts and state is TradingState.ACTIVE:
            self._set_trading_state(TradingState.REDUCING, "unresolved drift", "reconciliation")
        elif (
            not self.book.drifts
            and state is TradingState.REDUCING
            and self.book.trading_state_actor == "reconciliation"
        ):
            self._set_trading_state(TradingState.ACTIVE, "all drifts resolved", "reconciliation")

    async def resolve_drift(
        self, drift_id: str, resolution: DriftResolution, note: str, actor: str = "trader"
    ) -> CommandResult:
        """The trader's decision on a drift; ENGINE_CORRECTED makes the engine adopt the broker."""
        drift = self.book.drifts.get(drift_id)
        if drift is None:
            return CommandResult(False, f"no unresolved drift {drift_id}", "UNKNOWN_DRIFT")
        note = note.strip()
        if not note:
            return CommandResult(False, "a resolution needs a note", "NOTE_REQUIRED")
        if resolution is DriftResolution.ENGINE_CORRECTED:
            await self._adopt_broker_view(drift)
        self._emit(
            DriftResolved(
                **self._now_pair(), drift_id=drift_id, resolution=resolution, note=note, actor=actor
            )
        )
        self._update_reducing_for_drift()
        if resolution is DriftResolution.BROKER_CORRECTED:
            self.request_reconcile("after broker correction", delay_s=0.5)
        return CommandResult(True, f"drift {drift_id} {resolution}")

    async def _adopt_broker_view(self, drift: DriftDetected) -> None:
        if drift.drift_type is DriftType.POSITION_SIZE:
            with contextlib.suppress(BrokerUnavailable):
                for pos in await self.broker.positions():
                    if pos.instrument.symbol == drift.subject:
                        break
                else:
                    pos = None
                self._emit(
                    PositionCorrected(
                        **self._now_pair(),
                        symbol=drift.subject,
                        quantity=pos.quantity if pos else Decimal(0),
                        avg_price=pos.avg_cost if pos else Decimal(0),
                        drift_id=drift.drift_id,
                    )
                )
        elif drift.drift_type is DriftType.FILL_MISMATCH:
            await self._recover_after_connect()
        elif drift.drift_type is DriftType.ORDER_MISSING_AT_BROKER:
            rec = self.book.record_for_ref(drift.subject)
            if rec is not None and rec.state in (LifecycleState.SUBMITTED, LifecycleState.STALLED):
                self._emit(
                    OrderCancelConfirmed(
                        **self._now_pair(),
                        intent_id=rec.intent.intent_id,
                        order_ref=drift.subject,
                        filled=rec.entry_filled,
                        reason=f"engine corrected (drift {drift.drift_id})",
                    )
                )
                self._transition(rec, Trigger.CANCEL_CONFIRMED)


def _kv(state: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in state.items())
