"""The broker event router: each event from the broker port goes to the component that owns it."""

from __future__ import annotations

import logging

from contracts.broker import (
    AccountUpdated,
    BarUpdated,
    BrokerConnected,
    BrokerDisconnected,
    BrokerEvent,
    BrokerNotice,
    CancelRejected,
    CommissionReported,
    ConnectivityChanged,
    DataFarmStatus,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderEntryRefused,
    OrderFilled,
    OrderRejected,
    PacingViolation,
    PositionUpdated,
    QuoteUpdated,
)
from contracts.enums import AlertLevel
from contracts.events import CommissionRecorded
from engine.audit import AuditUnavailable
from engine.book import Book
from engine.clock import Clock
from engine.execution import ExecutionEvents
from engine.killswitch import KillSwitch
from engine.reconciliation import Reconciler
from engine.recorder import BackgroundTasks, EventRecorder
from engine.safety import SafetyActions
from engine.session import BrokerSession

log = logging.getLogger("deskgate.engine")


class BrokerEventRouter:
    """The broker port's event sink. A malformed or unrecordable event never stops the engine."""

    def __init__(
        self,
        recorder: EventRecorder,
        book: Book,
        session: BrokerSession,
        execution: ExecutionEvents,
        reconciler: Reconciler,
        kill_switch: KillSwitch,
        safety: SafetyActions,
        tasks: BackgroundTasks,
        clock: Clock,
    ) -> None:
        self._recorder = recorder
        self._book = book
        self._session = session
        self._execution = execution
        self._reconciler = reconciler
        self._kill_switch = kill_switch
        self._safety = safety
        self._tasks = tasks
        self._clock = clock

    def deliver(self, event: BrokerEvent) -> None:
        """Apply one broker event (audit first); failures are logged, never raised."""
        try:
            self._dispatch(event)
        except AuditUnavailable as exc:
            log.error("broker event %s could not be recorded: %s", event.kind, exc)
        except Exception:  # a malformed broker message must never kill the engine
            log.exception("broker event %s could not be applied", event.kind)

    def _risk_changed(self) -> None:
        self._kill_switch.check_loss_triggers()
        self._safety.check_triggers()

    def _dispatch(self, event: BrokerEvent) -> None:
        match event:
            case QuoteUpdated():
                self._session.on_quote(event.quote)
                self._recorder.bus.publish(event)
            case BarUpdated():
                self._recorder.bus.publish(event)  # the strategy runtime reads bars off the bus
            case OrderAccepted():
                self._execution.on_accepted(event)
            case OrderFilled():
                self._execution.on_fill(event)
                self._risk_changed()
                self._reconciler.request("fill")
            case CommissionReported():
                if event.exec_id in self._book.commissioned:
                    return  # re-reported by a resync: booked once
                self._recorder.emit(
                    CommissionRecorded(
                        ts_event=event.ts,
                        ts_init=self._clock.now(),
                        exec_id=event.exec_id,
                        commission=event.commission,
                        realized_pnl=event.realized_pnl,
                    )
                )
                self._risk_changed()
            case OrderCancelled():
                self._execution.on_cancelled(event)
                self._reconciler.request("cancel")
            case OrderRejected():
                self._execution.on_rejected(event)
                self._reconciler.request("reject")
            case CancelRejected():
                waited = self._execution.on_cancel_rejected(event)
                pending = f" after {waited:.2f} s in PENDING_CANCEL" if waited is not None else ""
                self._recorder.alert(
                    AlertLevel.WARNING,
                    event.kind.upper(),
                    f"{event.order_ref}: {event.code} {event.reason}{pending}",
                )
                self._reconciler.request("cancel rejected", delay_s=0.0)
            case ModifyRejected():
                self._recorder.alert(
                    AlertLevel.WARNING,
                    event.kind.upper(),
                    f"{event.order_ref}: {event.code} {event.reason}",
                )
            case PacingViolation():
                self._recorder.alert(
                    AlertLevel.WARNING, "PACING", event.message or "pacing violation"
                )
                self._safety.note_pacing_violation()
                self._kill_switch.check_loss_triggers()
            case BrokerConnected():
                self._session.connected = True
                self._session.down_reason = ""
                self._session.account_id = event.account_id
                self._session.is_paper = event.is_paper
                self._recorder.changed("connected")
                if self._reconciler.enabled and not self._session.resynced.is_set():
                    self._tasks.spawn(self.resync(), "resync")
            case BrokerDisconnected():
                self._session.connected = False
                self._session.link_interrupted()
                self._session.down_reason = event.reason or "broker disconnected"
                self._recorder.alert(
                    AlertLevel.CRITICAL, "DISCONNECTED", event.reason or "broker disconnected"
                )
                self._connection_failed()
            case ConnectivityChanged():
                self._session.connected = event.connected
                self._session.down_reason = "" if event.connected else (event.message or "lost")
                level = AlertLevel.INFO if event.connected else AlertLevel.CRITICAL
                self._recorder.alert(
                    level,
                    "CONNECTIVITY",
                    event.message or ("restored" if event.connected else "lost"),
                )
                self._session.link_interrupted()
                if not event.connected:
                    self._connection_failed()
                else:
                    self._tasks.spawn(self.resync(), "resync")
            case OrderEntryRefused():
                self._session.order_entry_refused = event.reason
                self._recorder.alert(
                    AlertLevel.CRITICAL,
                    "ORDER_ENTRY_REFUSED",
                    f"order entry disabled, the broker refuses new orders: {event.reason}",
                )
            case DataFarmStatus():
                self._session.farms[event.farm] = event.ok
                self._recorder.changed("farm")
            case AccountUpdated():
                self._session.on_account(event.account)
                self._risk_changed()
                self._recorder.changed("account")
            case PositionUpdated():
                self._recorder.changed("position")
            case BrokerNotice():
                self._recorder.changed("notice")

    def _connection_failed(self) -> None:
        self._safety.note_connection_failure()
        self._kill_switch.check_loss_triggers()

    async def resync(self) -> None:
        """After a reconnect: rebuild from broker truth, then reconcile at once. No new order
        leaves until a reconciliation has finished (`BrokerSession.resynced`)."""
        if not await self._execution.recover():
            self._reconciler.request("reconnect")
            return
        result = await self._reconciler.reconcile("reconnect")
        if not result.ok and result.code not in ("RATE_LIMITED", "RETRY"):
            self._reconciler.request("reconnect")
