"""The fill journal kept current for the console's fills view, read from the store incrementally."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from contracts.events import AuditedEvent, parse_event
from engine.audit import AuditStore
from engine.fill_journal import FillJournalRow, SlippageDrift, fill_journal, reconcile_slippage

JOURNAL_KINDS = frozenset({"INTENT", "SUBMITTING", "ACK", "FILL", "COMMISSION"})
"""Bead kinds the journal is built from; every other bead is skipped unparsed."""
REFRESH_S = 1.0
"""Re-read the store at most this often (monotonic seconds)."""
MAX_ROWS = 200
"""The newest fills the snapshot carries (`deskgate fill-report` has them all)."""


class FillsFeed:
    """Reads new committed beads since the last look and rebuilds the journal on a new fill."""

    def __init__(
        self,
        store: AuditStore,
        modelled_ticks: Mapping[str, Decimal],
        bound_ticks: Decimal,
    ) -> None:
        self._store = store
        self._modelled = modelled_ticks
        self._bound = bound_ticks
        self._events: list[AuditedEvent] = []
        self._last_seq = 0
        self._checked_at: float | None = None
        self.rows: tuple[FillJournalRow, ...] = ()
        self.slippage: tuple[SlippageDrift, ...] = ()

    def refresh(self, monotonic_now: float) -> None:
        if self._checked_at is not None and monotonic_now - self._checked_at < REFRESH_S:
            return
        self._checked_at = monotonic_now
        changed = False
        for row in self._store.rows(self._last_seq):
            self._last_seq = row.seq
            if row.kind not in JOURNAL_KINDS:
                continue
            try:
                self._events.append(parse_event(row.payload))
            except ValueError:  # reported by replay at start; the view just leaves it out
                continue
            changed = changed or row.kind in ("FILL", "COMMISSION")
        if changed:
            rows = fill_journal(self._events)
            self.rows = tuple(rows[-MAX_ROWS:])
            self.slippage = tuple(reconcile_slippage(rows, self._modelled, bound_ticks=self._bound))
