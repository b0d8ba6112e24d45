"""The audit store's side tables (intents, orders, fills, tokens, drift): rows derived from beads.

The beads are the record; a side row is a bead's index entry. An order's write-ahead commit holds
its beads only, so the synced commit the order waits for is the chain and nothing else (each side
table is two more B-trees' pages to sync); those beads' side rows go in with the store's next
write. `side_rows_through` holds the newest seq whose side rows, and every older bead's, are
written; opening a store writes the ones a crash left out. Writing a bead's side row again
changes nothing, so a repair never doubles a row.
"""

from __future__ import annotations

import sqlite3

from contracts.events import (
    AuditedEvent,
    DriftDetected,
    DriftResolved,
    FillRecorded,
    IntentReceived,
    OrderSubmitting,
    TokenExpired,
    TokenIssued,
    TokenUsed,
    parse_event,
)
from engine.audit_verify import BeadRow, rows_of

SIDE_TABLES: dict[str, tuple[str, ...]] = {
    "intents": (
        '"intent_id" TEXT PRIMARY KEY',
        '"received_at" TEXT',
        '"source" TEXT',
        '"payload" TEXT',
    ),
    "orders": (
        '"order_ref" TEXT PRIMARY KEY',
        '"intent_id" TEXT',
        '"submitted_at" TEXT',
        '"payload" TEXT',
    ),
    "fills": (
        '"exec_id" TEXT PRIMARY KEY',
        '"intent_id" TEXT',
        '"order_ref" TEXT',
        '"ts" TEXT',
        '"quantity" TEXT',
        '"price" TEXT',
    ),
    "tokens": ('"token_id" TEXT PRIMARY KEY', '"intent_id" TEXT', '"status" TEXT', '"ts" TEXT'),
    "drift": ('"drift_id" TEXT PRIMARY KEY', '"ts" TEXT', '"payload" TEXT', '"resolved" INTEGER'),
    "side_rows_through": ('"seq" INTEGER',),
}
"""As sqlite-utils created them in stores written before (same SQL types), and the watermark."""


def write_side_row(conn: sqlite3.Connection, row: BeadRow, event: AuditedEvent) -> None:
    """Index one bead in its side table (nothing for kinds without one); idempotent."""
    if isinstance(event, IntentReceived):
        conn.execute(
            "INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?)",
            (event.intent.intent_id, row.ts, event.source, event.intent.model_dump_json()),
        )
    elif isinstance(event, OrderSubmitting):
        conn.execute(
            "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
            (event.request.order_ref, event.intent_id, row.ts, event.request.model_dump_json()),
        )
    elif isinstance(event, FillRecorded):
        conn.execute(
            "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?)",
            (
                event.exec_id,
                event.intent_id,
                event.order_ref,
                row.ts,
                str(event.quantity),
                str(event.price),
            ),
        )
    elif isinstance(event, DriftDetected):
        conn.execute(
            "INSERT OR REPLACE INTO drift VALUES (?, ?, ?, 0)",
            (event.drift_id, row.ts, row.payload),
        )
    elif isinstance(event, DriftResolved):
        conn.execute("UPDATE drift SET resolved = 1 WHERE drift_id = ?", (event.drift_id,))
    elif isinstance(event, TokenIssued | TokenUsed | TokenExpired):
        status = {"TOKEN_ISSUED": "ISSUED", "TOKEN_USED": "USED"}.get(event.kind, "EXPIRED")
        conn.execute(
            "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
            (event.token_id, event.intent_id, status, row.ts),
        )


def mark_written_through(conn: sqlite3.Connection, seq: int) -> None:
    """Every bead up to `seq` has its side rows (inside the transaction that wrote them)."""
    conn.execute("UPDATE side_rows_through SET seq = ?", (seq,))


def written_through(conn: sqlite3.Connection, head_seq: int) -> int:
    """The watermark; a store without one (written before it existed, or new) wrote every
    side row with its bead, so it starts at the head."""
    row = conn.execute("SELECT seq FROM side_rows_through").fetchone()
    if row is not None:
        return int(row[0])
    conn.execute("INSERT INTO side_rows_through VALUES (?)", (head_seq,))
    return head_seq


def repair_side_rows(conn: sqlite3.Connection, through: int, head_seq: int) -> None:
    """Write the side rows of the beads after the watermark, oldest first, in one synced
    transaction. Raises ValueError naming a bead whose
    payload does not parse (a store to verify, not to index)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for row in list(rows_of(conn, through)):
            try:
                event = parse_event(row.payload)
            except ValueError as exc:
                first = str(exc).splitlines()[0]
                raise ValueError(f"bead {row.seq} ({row.kind}) does not parse: {first}") from exc
            write_side_row(conn, row, event)
        mark_written_through(conn, head_seq)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
