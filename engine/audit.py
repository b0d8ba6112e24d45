"""The audit store: append-only, hash-chained beads in SQLite (WAL), plus side tables.

Every engine event becomes a bead. `append` batches (flushed by `flush` or when the batch
fills); `append_durable` writes the pending batch and the new bead in one fully synced
transaction and raises `AuditUnavailable` if the disk refuses — the order path calls it and
sends nothing when it fails.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from contracts.events import AuditedEvent, IntentReceived, parse_event
from engine.audit_anchor import (
    Anchor,
    AnchorError,
    AnchorFile,
    anchor_path,
    bead_hash,
    chmod_private,
    create_key,
    load_key,
    read_anchor,
)
from engine.audit_tables import (
    SIDE_TABLES,
    mark_written_through,
    repair_side_rows,
    write_side_row,
    written_through,
)
from engine.audit_verify import (
    GENESIS,
    BeadRow,
    ReadOnlyStore,
    StoreUnreadable,
    VerifyReport,
    check_anchor,
    export_jsonl,
    newest_rows,
    rows_of,
    rows_up_to,
    verify_store,
)

__all__ = ["GENESIS", "AuditStore", "AuditUnavailable", "BeadRow", "VerifyReport", "open_read_only"]

BATCH_LIMIT = 256


class AuditUnavailable(Exception):
    """The audit store cannot write (locked, disk full, read-only): no order may be sent."""


def _intent_id_of(event: AuditedEvent) -> str | None:
    if isinstance(event, IntentReceived):
        return event.intent.intent_id
    value = getattr(event, "intent_id", None)
    return value if isinstance(value, str) else None


_TABLES: dict[str, tuple[str, ...]] = {
    "beads": (
        '"seq" INTEGER PRIMARY KEY',
        '"ts" TEXT',
        '"kind" TEXT',
        '"intent_id" TEXT',
        '"payload" TEXT',
        '"prev_hash" TEXT',
        '"hash" TEXT',
    ),
}
"""The chain's table, as sqlite-utils created it in stores written before (same SQL types)."""


CHECKPOINT_PAGES = 1000
"""Log pages after which a commit checkpoints the log into the database (SQLite's default);
never a write-ahead's commit (`AuditStore._hold_checkpoints`)."""


def _create_schema(conn: sqlite3.Connection) -> None:
    for name, columns in (_TABLES | SIDE_TABLES).items():
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({", ".join(columns)})')
    conn.execute('CREATE INDEX IF NOT EXISTS "idx_beads_intent_id" ON "beads" ("intent_id")')


class AuditStore:
    """One SQLite file per account. Not thread-safe: used from the engine's loop only."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 200) -> None:
        self.path = path
        try:
            _private_dir(path.parent)
            if not os.access(path.parent, os.W_OK):
                raise AuditUnavailable(
                    f"data dir {path.parent} is read-only: deskgate refuses to trade without "
                    "a writable audit store (intents and the write-ahead log live there)"
                )
            _private_file(path)  # SQLite gives -wal and -shm the main file's mode
            conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=0
            )
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
            self._conn = conn
            _create_schema(conn)
            chmod_private(*_sqlite_files(path))
            row = conn.execute("SELECT seq, hash FROM beads ORDER BY seq DESC LIMIT 1").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise AuditUnavailable(f"audit store {path}: {_cause(exc)}") from exc
        self._seq: int = row[0] if row else 0
        self._head: str = row[1] if row else GENESIS
        self._key, self._keyed_from, self._anchor_file = self._open_chain_key()
        self._pending: list[tuple[BeadRow, AuditedEvent]] = []
        self._anchor_due: BeadRow | None = None
        """A committed head whose anchor a write-ahead has not written yet."""
        self._checkpoint_held = False
        """A write-ahead turned automatic checkpoints off; the next ordinary write turns them
        back on (and runs the one that came due)."""
        self._side_due: list[tuple[BeadRow, AuditedEvent]] = []
        """Beads a write-ahead committed without their side rows: the next write adds them."""
        self._index_side_rows()

    def _index_side_rows(self) -> None:
        """Write the side rows a crash between a write-ahead and the next write left out."""
        try:
            through = written_through(self._conn, self._seq)
            if through < self._seq:
                repair_side_rows(self._conn, through, self._seq)
        except (sqlite3.Error, ValueError) as exc:
            raise AuditUnavailable(
                f"audit store {self.path}: its side tables could not be brought up to its "
                f"beads: {_cause(exc)}; run `deskgate audit verify`"
            ) from exc

    def _open_chain_key(self) -> tuple[bytes, int, AnchorFile]:
        """Load the key and check the anchor; key a new or legacy store from its next bead."""
        try:
            key = load_key(self.path)
            if key is None:
                if anchor_path(self.path).exists():
                    raise AuditUnavailable(
                        f"audit store {self.path}: its chain key is missing but its head anchor "
                        "exists; restore the key file (run `deskgate audit verify`)"
                    )
                key = create_key(self.path)
                anchor: Anchor | None = Anchor(self._seq, self._head, self._seq + 1)
            else:
                anchor = read_anchor(self.path, key)
            if anchor is None:  # a crash between creating the key and the first anchor
                anchor = Anchor(self._seq, self._head, self._seq + 1)
            problems = check_anchor(self._conn, anchor)
            if problems:
                # Appending now would overwrite the evidence: refuse until a human looks.
                raise AuditUnavailable(
                    f"audit store {self.path}: {problems[0]}; run `deskgate audit verify`"
                )
            anchor_file = AnchorFile(self.path)
            anchor_file.write(key, Anchor(self._seq, self._head, anchor.keyed_from))
            anchor_file.wait()  # a disk refusing the anchor is found at open, not at an order
        except (AnchorError, OSError) as exc:
            raise AuditUnavailable(f"audit store {self.path}: {_cause(exc)}") from exc
        return key, anchor.keyed_from, anchor_file

    # --- writing --------------------------------------------------------------------------

    def _make_row(self, event: AuditedEvent) -> BeadRow:
        seq = self._seq + 1
        ts = event.ts_init.isoformat()
        payload = event.model_dump_json()
        digest = bead_hash(self._head, seq, ts, event.kind, payload, self._key)
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

    def append_durable(self, event: AuditedEvent, *, write_ahead: bool = False) -> int:
        """Write the pending batch and this bead, fully synced, before returning.

        With `write_ahead` (an order about to leave) the commit holds the beads only: the head
        anchor stays due until `sync_anchor` or the next write (tamper evidence may lag, never
        lead), and the beads' side rows go in with the next write (`engine.audit_tables`).
        """
        row = self._make_row(event)
        batch = [*self._pending, (row, event)]
        self._write(batch, side_rows=not write_ahead)
        self._pending.clear()
        self._seq, self._head = row.seq, row.hash
        if write_ahead:
            self._anchor_due = row
        else:
            self._anchor(row)
        return row.seq

    def sync_anchor(self) -> None:
        """Write the head anchor a deferred durable append left due (nothing if none is)."""
        if self._anchor_due is not None:
            self._anchor(self._anchor_due)

    def settle(self) -> None:
        """Block until the head anchor's background sync is done (a refused sync is raised):
        the disk is then quiet, as it is once a trader has read a pending order."""
        self._anchor_synced(self._anchor_file.wait)

    def _anchor_synced(self, check: Callable[[], None]) -> None:
        """Run `check` (waits for, or looks at, the anchor's background sync); a sync the disk
        refused becomes AuditUnavailable naming the anchor."""
        try:
            check()
        except OSError as exc:
            raise AuditUnavailable(
                f"audit head anchor {anchor_path(self.path)} refused the sync: {_cause(exc)}"
            ) from exc

    def flush(self) -> None:
        """Write the queued beads and their head anchor; with none queued, the anchor a
        write-ahead left due (the flusher's period bounds how far the anchor lags)."""
        if not self._pending:
            if self._side_due:
                self._write([])
            self.sync_anchor()
            self._anchor_synced(self._anchor_file.raise_refused)  # now, not at the next write
            return
        self._write(self._pending)
        newest = self._pending[-1][0]
        self._pending.clear()
        self._anchor(newest)

    def _anchor(self, newest: BeadRow) -> None:
        """Record the committed head outside the store (after the commit: may lag, never lead)."""
        try:
            self._anchor_file.write(self._key, Anchor(newest.seq, newest.hash, self._keyed_from))
        except OSError as exc:
            self._anchor_due = newest
            raise AuditUnavailable(
                f"audit head anchor {anchor_path(self.path)} refused the write: {_cause(exc)}"
            ) from exc
        self._anchor_due = None

    @property
    def head_seq(self) -> int:
        """The seq of the newest bead, flushed or not."""
        return self._seq

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _write(self, batch: list[tuple[BeadRow, AuditedEvent]], *, side_rows: bool = True) -> None:
        """Commit `batch` (fully synced); with `side_rows`, its beads' side rows and any a
        write-ahead left due in the same transaction, else those rows are left due."""
        conn = self._conn
        indexed = [*self._side_due, *batch] if side_rows else []
        try:
            self._hold_checkpoints(not side_rows)
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
                for row, event in indexed:
                    write_side_row(conn, row, event)
                if indexed:
                    mark_written_through(conn, indexed[-1][0].seq)
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (disk full, I/O error): a second ROLLBACK
                # would raise "no transaction is active" and hide the real cause.
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise AuditUnavailable(f"audit store refused the write: {_cause(exc)}") from exc
        if side_rows:
            self._side_due.clear()
        else:
            self._side_due.extend(batch)

    def _hold_checkpoints(self, hold: bool) -> None:
        """Keep SQLite's automatic checkpoint out of a write-ahead commit, let the next one run it.

        SQLite checkpoints inside the commit that takes the log past `CHECKPOINT_PAGES`: it copies
        the log into the database and syncs it, 30-300 ms on a slow disk, and an order whose
        write-ahead drew it waited that long to leave. Held, the write-ahead only appends; the
        next ordinary write (the flush after the order left) takes the log past the threshold
        and runs it. The log grows by at most the write-aheads of one flush period meanwhile.
        """
        if hold != self._checkpoint_held:
            pages = 0 if hold else CHECKPOINT_PAGES
            self._conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
            self._checkpoint_held = hold

    # --- reading --------------------------------------------------------------------------

    def rows(self, after_seq: int = 0) -> Iterator[BeadRow]:
        return rows_of(self._conn, after_seq)

    def events(self) -> Iterator[AuditedEvent]:
        """Every committed event, oldest first (the replay source)."""
        for row in self.rows():
            yield parse_event(row.payload)

    def tail(self, n: int = 20) -> list[BeadRow]:
        """The newest n beads, oldest first, including ones not yet flushed."""
        pending = [r for r, _ in self._pending]
        stored = newest_rows(self._conn, max(0, n - len(pending)))
        return (stored + pending)[-n:]

    def page(self, top_seq: int, n: int) -> list[BeadRow]:
        """At most n beads with seq <= top_seq, newest first, including ones not yet flushed;
        reads only those rows (the audit screen pages through the whole store)."""
        pending = [r for r, _ in reversed(self._pending) if r.seq <= top_seq][:n]
        older = pending[-1].seq if pending else top_seq + 1
        return pending + rows_up_to(self._conn, min(top_seq, older - 1), n - len(pending))

    def verify(self) -> VerifyReport:
        """Check the committed chain, its key and its head anchor (read-only)."""
        return verify_store(self.path)

    def export_jsonl(self, out: IO[str]) -> int:
        return export_jsonl(self.rows(), out)

    def close(self) -> None:
        try:
            self.flush()
            self.sync_anchor()
        finally:
            self._conn.close()
            self._anchor_file.close()


def open_read_only(path: Path) -> ReadOnlyStore:
    """Open an existing store for tail/export without writing to it; refuses a missing file."""
    try:
        return ReadOnlyStore(path)
    except StoreUnreadable as exc:
        raise AuditUnavailable(str(exc)) from exc


def _cause(exc: BaseException) -> str:
    """Name the real cause of a refused write in the trader's words, keeping SQLite's text."""
    text = str(exc)
    errno = getattr(exc, "errno", None)
    if "full" in text or errno == 28:
        return f"the disk is full ({text})"
    if "readonly" in text or "read-only" in text or errno == 30:
        return f"the data dir is read-only ({text})"
    return text


def _private_dir(directory: Path) -> None:
    """Create the data dir 0700, and close an existing one to group and others."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077 and os.access(directory, os.W_OK):
        directory.chmod(0o700)


def _private_file(path: Path) -> None:
    if path.exists():
        path.chmod(0o600)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def _sqlite_files(path: Path) -> tuple[Path, ...]:
    return (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
