"""Rebuilding the book from the audit store, tolerant of records that no longer parse."""

from __future__ import annotations

import logging
from collections.abc import Callable

from contracts.events import AuditedEvent, parse_event
from engine.audit import AuditStore
from engine.book import Book

log = logging.getLogger("deskgate.engine")


def replay_into(
    store: AuditStore, book: Book, *observers: Callable[[AuditedEvent], None]
) -> list[tuple[int, str]]:
    """Apply every stored event to `book` (and show it to each observer: the live limits,
    the execution styles to resume), oldest first; returns (seq, reason) of each skipped one.

    A record that does not parse, or that the book cannot apply, is skipped and reported:
    one bad record never stops the engine from starting.
    """
    skipped: list[tuple[int, str]] = []
    for row in store.rows():
        try:
            event = parse_event(row.payload)
            book.apply(event)
            for observe in observers:
                observe(event)
        except Exception as exc:  # any bad record: report it, keep replaying
            reason = f"{type(exc).__name__}: {_first_line(exc)}"
            log.error("audit record seq %d (%s) skipped: %s", row.seq, row.kind, reason)
            skipped.append((row.seq, reason))
    return skipped


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
