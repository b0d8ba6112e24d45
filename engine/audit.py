"""The audit store: append-only, hash-chained beads in SQLite (WAL), plus side tables.

Every engine event becomes a bead. `append` batches (flushed by `flush` or when the batch
fills); `append_durable` writes the pending batch and the new bead in one fully synced
transaction and raises `AuditUnavailable` if the disk refuses — the order path calls it and
sends nothing when it fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlite_utils

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

GENESIS = "0" * 64
BATCH_LIMIT = 256


class AuditUnavailable(Exception):
    """The audit store cannot write (locked, disk full, read-only): no order may be sent."""


@dataclass(frozen=True)
class BeadRow:
    seq: int
    ts: str
    kind: str
    intent_id: str | None
    payload: str
    prev_hash: str
    hash: str


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def bead_hash(prev_hash: str, seq: int, ts: str, kind: str, payload: str) -> str:
    h = hashlib.sha256()
    for part in (prev_hash, str(seq), ts, kind, payload):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


def _intent_id_of(event: AuditedEvent) -> str | None:
    if isinstance(event, IntentReceived):
        return event.intent.intent_id
    value = getattr(event, "intent_id", None)
    return value if isinstance(value, str) else None


_SCHEMA: dict[str, dict[str, Any]] = {
    "beads": {
        "columns": {
            "seq": int,
            "ts": str,
            "kind": str,
            "intent_id": str,
            "payload": str,
            "prev_hash": str,
            "hash": str,
        },
        "pk": "seq",
    },
    "intents": {
        "columns": {"intent_id": str, "received_at": str, "source": str, "payload": str},
        "pk": "intent_id",
    },
    "orders": {
        "columns": {"order_ref": str, "intent_id": str, "submitted_at": str, "payload": str},
        "pk": "order_ref",
    },
    "fills": {
        "columns": {
            "exec_id": str,
            "intent_id": str,
            "order_ref": str,
            "ts": str,
            "quantity": str,
            "price": str,
        },
        "pk": "exec_id",
    },
    "tokens": {
        "columns": {"token_id": str, "intent_id": str, "status": str, "ts": str},
        "pk": "token_id",
    },
    "drift": {
        "columns": {"drift_id": str, "ts": str, "payload": str, "resolved": int},
        "pk": "drift_id",
    },
}


class AuditStore:
    """One SQLite file per account. Not thread-safe: used from the engine's loop only."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 200) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(path.parent, os.W_OK):
                raise AuditUnavailable(
                    f"data dir {path.parent} is read-only: deskgate refuses to trade without "
                    "a writable audit store (intents and the write-ahead log live there)"
                )
            conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=0
            )
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._conn = conn
            self.db = sqlite_utils.Database(conn)
            for name, spec in _SCHEMA.items():
                if not self.db[name].exists():
                    self.db[name].create(spec["columns"], pk=spec["pk"])  # type: ignore[union-attr]
            self.db["beads"].create_index(["intent_id"], if_not_exists=True)  # type: ignore[union-attr]
            row = conn.execute("SELECT seq, hash FROM beads ORDER BY seq DESC LIMIT 1").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise AuditUnavailable(f"audit store {path}: {exc}") from exc
        self._seq: int = row[0] if row else 0
        self._head: str = row[1] if row else GENESIS
        self._pending: list[tuple[BeadRow, AuditedEvent]] = []

    # --- writing --------------------------------------------------------------------------

    def _make_row(self, event: AuditedEvent) -> BeadRow:
        seq = self._seq + 1
        ts = event.ts_init.isoformat()
        payload = event.model_dump_json()
        digest = bead_hash(self._head, seq, ts, event.kind, payload)
        return BeadRow(seq, ts, event.kind, _intent_id_of(event), payload, self._head, digest)

    def append(self, event: AuditedEvent) -> int:
        """Queue a bead (hash-chained now, written at the next flush). Returns its seq."""
        row = self._make_row(event)
        self._seq, self._head = row.seq, row.hash
        self._pending.append((row, event))
        if len(self._pending) >= BATCH_LIMIT:
            # On failure the beads stay pending; the next durable append or flush reports it.
            with contextlib.suppress(AuditUnavailable):
                self.flush()
        return row.seq

    def append_durable(self, event: AuditedEvent) -> int:
        """Write the pending batch and this bead, fully synced, before returning."""
        row = self._make_row(event)
        batch = [*self._pending, (row, event)]
        self._write(batch)
        self._pending.clear()
        self._seq, self._head = row.seq, row.hash
        return row.seq

    def flush(self) -> None:
        if not self._pending:
            return
        self._write(self._pending)
        self._pending.clear()

    @property
    def head_seq(self) -> int:
        """The seq of the newest bead, flushed or not."""
        return self._seq

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _write(self, batch: list[tuple[BeadRow, AuditedEvent]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO beads (seq, ts, kind, intent_id, payload, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (r.seq, r.ts, r.kind, r.intent_id, r.payload, r.prev_hash, r.hash)
                        for r, _ in batch
                    ],
                )
                for row, event in batch:
                    self._write_side_tables(row, event)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if "readonly" in str(exc):
                raise AuditUnavailable(
                    f"audit store refused the write: data dir {self.path.parent} is read-only"
                ) from exc
            raise AuditUnavailable(f"audit store refused the write: {exc}") from exc

    def _write_side_tables(self, row: BeadRow, event: AuditedEvent) -> None:
        c = self._conn
        if isinstance(event, IntentReceived):
            c.execute(
                "INSERT OR REPLACE INTO intents VALUES (?, ?, ?, ?)",
                (event.intent.intent_id, row.ts, event.source, event.intent.model_dump_json()),
            )
        elif isinstance(event, OrderSubmitting):
            c.execute(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
                (event.request.order_ref, event.intent_id, row.ts, event.request.model_dump_json()),
            )
        elif isinstance(event, FillRecorded):
            c.execute(
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
            c.execute(
                "INSERT OR REPLACE INTO drift VALUES (?, ?, ?, 0)",
                (event.drift_id, row.ts, row.payload),
            )
        elif isinstance(event, DriftResolved):
            c.execute("UPDATE drift SET resolved = 1 WHERE drift_id = ?", (event.drift_id,))
        elif isinstance(event, TokenIssued | TokenUsed | TokenExpired):
            status = {"TOKEN_ISSUED": "ISSUED", "TOKEN_USED": "USED"}.get(event.kind, "EXPIRED")
            c.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
                (event.token_id, event.intent_id, status, row.ts),
            )

    # --- reading --------------------------------------------------------------------------

    def rows(self, after_seq: int = 0) -> Iterator[BeadRow]:
        cur = self._conn.execute(
            "SELECT seq, ts, kind, intent_id, payload, prev_hash, hash FROM beads "
            "WHERE seq > ? ORDER BY seq",
            (after_seq,),
        )
        for r in cur:
            yield BeadRow(*r)

    def events(self) -> Iterator[AuditedEvent]:
        """Every committed event, oldest first (the replay source)."""
        for row in self.rows():
            yield parse_event(row.payload)

    def tail(self, n: int = 20) -> list[BeadRow]:
        """The newest n beads, oldest first, including ones not yet flushed."""
        pending = [r for r, _ in self._pending]
        need = max(0, n - len(pending))
        cur = self._conn.execute(
            "SELECT seq, ts, kind, intent_id, payload, prev_hash, hash FROM beads "
            "ORDER BY seq DESC LIMIT ?",
            (need,),
        )
        stored = [BeadRow(*r) for r in cur][::-1]
        return (stored + pending)[-n:]

    def verify(self) -> VerifyReport:
        """Walk the chain: any edited, deleted or reordered row is reported."""
        return verify_rows(self.rows())

    def export_jsonl(self, out: IO[str]) -> int:
        n = 0
        for row in self.rows():
            record = {
                "seq": row.seq,
                "ts": row.ts,
                "kind": row.kind,
                "intent_id": row.intent_id,
                "event": json.loads(row.payload),
                "prev_hash": row.prev_hash,
                "hash": row.hash,
            }
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            n += 1
        return n

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._conn.close()


def verify_rows(rows: Iterator[BeadRow]) -> VerifyReport:
    report = VerifyReport()
    expected_prev = GENESIS
    expected_seq = 1
    for row in rows:
        report.checked += 1
        if row.seq != expected_seq:
            report.problems.append(
                f"seq {row.seq}: expected seq {expected_seq} (rows deleted or reordered)"
            )
        if row.prev_hash != expected_prev:
            report.problems.append(f"seq {row.seq}: prev_hash does not match the row before")
        recomputed = bead_hash(row.prev_hash, row.seq, row.ts, row.kind, row.payload)
        if recomputed != row.hash:
            report.problems.append(f"seq {row.seq}: contents do not match its hash (edited)")
        expected_prev = row.hash
        expected_seq = row.seq + 1
    return report


def open_read_only(path: Path) -> AuditStore:
    """Open an existing store for verify/tail/export; refuses a missing file."""
    if not path.exists():
        raise AuditUnavailable(f"{path}: no audit store there")
    return AuditStore(path)
