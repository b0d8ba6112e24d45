"""The audit-first recorder every engine component writes through: store, then book, then bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from contracts.enums import AlertLevel, Trigger
from contracts.events import AlertRaised, AuditedEvent, PositionBead, TransitionRefused
from engine.audit import AuditStore, AuditUnavailable
from engine.book import Book, IntentRecord
from engine.bus import EventBus, StateChanged
from engine.clock import Clock
from engine.fsm import InvalidTransition, next_state

log = logging.getLogger("deskgate.engine")


class EventRecorder:
    """Appends each event to the audit store, folds it into the book, then tells the bus.

    Safety actions (kill, cancel, flatten, rollback) record through `record_safety`: if the
    store refuses the synced write, the event is applied and queued anyway and a critical
    alert stands until a later flush writes it.
    """

    def __init__(self, store: AuditStore, book: Book, bus: EventBus, clock: Clock) -> None:
        self.store = store
        self.book = book
        self.bus = bus
        self.clock = clock
        self.unrecorded_safety = 0
        """Safety records applied and queued while the store refused to write them."""
        self._flush_refused = False

    def now_pair(self) -> dict[str, Any]:
        now = self.clock.now()
        return {"ts_event": now, "ts_init": now}

    def emit(self, event: AuditedEvent, *, durable: bool = False) -> None:
        """Audit first (synced when `durable`), then apply, then publish. Raises if not stored."""
        if durable:
            self.store.append_durable(event)
        else:
            self.store.append(event)
        self.book.apply(event)
        self.bus.publish(event)

    def write_ahead(self, event: AuditedEvent) -> None:
        """Record an order about to leave: its beads synced; their anchor and side rows follow
        with the next write."""
        self.store.append_durable(event, write_ahead=True)
        self.book.apply(event)
        self.bus.publish(event)

    def record_safety(self, event: AuditedEvent) -> bool:
        """Record a safety action that already happened (or must happen) at the broker.

        Tries a synced write; if the store refuses, the event is queued for the next flush and
        applied anyway. Returns True when it is on disk now.
        """
        try:
            self.emit(event, durable=True)
            return True
        except AuditUnavailable as exc:
            self.store.append(event)
            self.book.apply(event)
            self.bus.publish(event)
            self.unrecorded_safety += 1
            log.error("safety record %s queued, store refused it: %s", event.kind, exc)
            self.alert(
                AlertLevel.CRITICAL,
                "AUDIT_PENDING",
                f"{event.kind} done but not yet recorded ({self.store.pending} queued): {exc}",
            )
            return False

    def flush(self) -> None:
        """Write queued beads; once queued safety records reach the disk, say so."""
        self.store.flush()
        if self.unrecorded_safety:
            count, self.unrecorded_safety = self.unrecorded_safety, 0
            self.alert(
                AlertLevel.INFO, "AUDIT_RECORDED", f"{count} queued safety record(s) written"
            )

    def periodic_flush(self) -> None:
        """The flusher's write. A store that starts refusing (a dead disk, the head anchor's
        sync refused in the background) raises one CRITICAL alert, and an INFO one when a flush
        goes through again; the log has every refusal."""
        try:
            self.flush()
        except AuditUnavailable as exc:
            log.error("audit flush failed: %s", exc)
            if not self._flush_refused:
                self._flush_refused = True
                self.alert(AlertLevel.CRITICAL, "AUDIT_FLUSH", f"audit store refused: {exc}")
            return
        if self._flush_refused:
            self._flush_refused = False
            self.alert(AlertLevel.INFO, "AUDIT_FLUSH", "audit store writes again")

    def alert(
        self, level: AlertLevel, code: str, message: str, intent_id: str | None = None
    ) -> None:
        self.emit(
            AlertRaised(
                **self.now_pair(), level=level, code=code, message=message, intent_id=intent_id
            )
        )

    def transition(self, rec: IntentRecord, trigger: Trigger) -> bool:
        """Move a record through the lifecycle table; refusals are recorded, not raised."""
        try:
            to = next_state(rec.state, trigger)
        except InvalidTransition as exc:
            self.emit(
                TransitionRefused(
                    **self.now_pair(),
                    intent_id=rec.intent.intent_id,
                    state=rec.state,
                    trigger=trigger,
                    detail=str(exc),
                )
            )
            return False
        self.emit(
            PositionBead(
                **self.now_pair(),
                intent_id=rec.intent.intent_id,
                from_state=rec.state,
                to_state=to,
                trigger=trigger,
                requested=rec.requested,
                filled=rec.entry_filled,
            )
        )
        return True

    def changed(self, reason: str) -> None:
        self.bus.publish(StateChanged(reason))


class BackgroundTasks:
    """Coroutines run in the background, referenced until they finish."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start `coro` as a task and keep it alive until it is done."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
