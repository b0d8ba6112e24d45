"""Reading an audit store without writing to it: verify, tail and export (`deskgate audit`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from engine.audit_anchor import (
    Anchor,
    AnchorError,
    anchor_path,
    bead_hash,
    key_path,
    load_key,
    read_anchor,
)

GENESIS = "0" * 64
_COLUMNS = "seq, ts, kind, intent_id, payload, prev_hash, hash"


class StoreUnreadable(Exception):
    """The file is not a readable audit store (missing, empty, not SQLite, no beads table)."""


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
    notes: list[str] = field(default_factory=list)
    """Facts that are not failures (e.g. a legacy unkeyed prefix)."""

    @property
    def ok(self) -> bool:
        return not self.problems


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open `path` so SQLite can never write it: mode=ro, or immutable on read-only media."""
    if not path.is_file():
        raise StoreUnreadable(f"{path}: no audit store there")
    if path.stat().st_size == 0:
        raise StoreUnreadable(f"{path}: empty file, not an audit store")
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        _has_beads(conn, path)
        return conn
    except sqlite3.OperationalError as exc:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreUnreadable(
                f"{path}: cannot open read-only ({exc}) and its -wal file holds commits "
                "not yet in the main file; copy the store and its -wal to writable media"
            ) from exc
    # Read-only media and no pending WAL: the file is complete, read it without locking.
    try:
        conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
        _has_beads(conn, path)
    except sqlite3.DatabaseError as exc:
        raise StoreUnreadable(f"{path}: not a readable audit store ({exc})") from exc
    return conn


def _has_beads(conn: sqlite3.Connection, path: Path) -> None:
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'beads'"
        ).fetchone()
    except sqlite3.OperationalError:
        raise  # cannot open read-only here: the caller tries the immutable way
    except sqlite3.DatabaseError as exc:
        raise StoreUnreadable(f"{path}: not a readable audit store ({exc})") from exc
    if not found:
        raise StoreUnreadable(f"{path}: no beads table, not an audit store")


def rows_of(conn: sqlite3.Connection, after_seq: int = 0) -> Iterator[BeadRow]:
    cur = conn.execute(
        f"SELECT {_COLUMNS} FROM beads WHERE seq > ? ORDER BY seq",
        (after_seq,),
    )
    for r in cur:
        yield BeadRow(*r)


def newest_rows(conn: sqlite3.Connection, n: int) -> list[BeadRow]:
    """The newest n committed beads, oldest first."""
    cur = conn.execute(f"SELECT {_COLUMNS} FROM beads ORDER BY seq DESC LIMIT ?", (n,))
    return [BeadRow(*r) for r in cur][::-1]


def rows_up_to(conn: sqlite3.Connection, top_seq: int, n: int) -> list[BeadRow]:
    """At most n committed beads with seq <= top_seq, newest first (one indexed range read)."""
    cur = conn.execute(
        f"SELECT {_COLUMNS} FROM beads WHERE seq <= ? ORDER BY seq DESC LIMIT ?", (top_seq, n)
    )
    return [BeadRow(*r) for r in cur]


def export_jsonl(rows: Iterable[BeadRow], out: IO[str]) -> int:
    n = 0
    for row in rows:
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


def verify_chain(rows: Iterable[BeadRow], key: bytes | None, keyed_from: int) -> VerifyReport:
    """Walk the chain: any edited, deleted or reordered row is reported."""
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
        link_key = key if row.seq >= keyed_from else None
        recomputed = bead_hash(row.prev_hash, row.seq, row.ts, row.kind, row.payload, link_key)
        if recomputed != row.hash:
            report.problems.append(f"seq {row.seq}: contents do not match its hash (edited)")
        expected_prev = row.hash
        expected_seq = row.seq + 1
    return report


def verify_store(path: Path) -> VerifyReport:
    """The whole check of `deskgate audit verify`; never writes to the store or beside it."""
    try:
        conn = connect_read_only(path)
    except StoreUnreadable as exc:
        return VerifyReport(problems=[str(exc)])
    try:
        return _verify_open(conn, path)
    except sqlite3.DatabaseError as exc:
        return VerifyReport(problems=[f"{path}: unreadable ({exc})"])
    finally:
        conn.close()


def _verify_open(conn: sqlite3.Connection, path: Path) -> VerifyReport:
    anchor: Anchor | None = None
    problems: list[str] = []
    try:
        key = load_key(path)
        if key is not None:
            anchor = read_anchor(path, key)
    except AnchorError as exc:
        key, problems = None, [str(exc)]
    if key is None and not problems:
        hint = (
            "its head anchor exists, so the key was removed"
            if anchor_path(path).exists()
            else "a legacy store: open it once with the console to key it"
        )
        problems.append(
            f"{key_path(path)}: no chain key, so a re-hashed edit cannot be ruled out ({hint})"
        )
    elif key is not None and anchor is None:
        problems.append(
            f"{anchor_path(path)}: no head anchor, so deleted newest beads cannot be ruled out"
        )
    keyed_from = anchor.keyed_from if anchor else 1
    report = verify_chain(rows_of(conn), key, keyed_from)
    report.problems[:0] = problems
    if report.checked == 0:
        report.problems.append(f"{path}: no beads (an audit store always has at least one)")
    if anchor is not None:
        report.problems.extend(check_anchor(conn, anchor))
        if anchor.keyed_from > 1:
            report.notes.append(
                f"beads 1..{anchor.keyed_from - 1} predate the chain key (legacy): "
                "an edit re-hashed there cannot be ruled out"
            )
    return report


def check_anchor(conn: sqlite3.Connection, anchor: Anchor) -> list[str]:
    """The store must still hold the anchored head bead, unchanged."""
    if anchor.seq == 0:
        return []
    head = conn.execute("SELECT MAX(seq) FROM beads").fetchone()[0] or 0
    if head < anchor.seq:
        return [
            f"newest beads missing: the store ends at seq {head} but its head anchor "
            f"records seq {anchor.seq} (truncated)"
        ]
    row = conn.execute("SELECT hash FROM beads WHERE seq = ?", (anchor.seq,)).fetchone()
    if row is None or row[0] != anchor.hash:
        return [f"seq {anchor.seq}: differs from the bead recorded in the head anchor"]
    return []


class ReadOnlyStore:
    """An existing store opened for tail/export; nothing is created or written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect_read_only(path)

    def rows(self, after_seq: int = 0) -> Iterator[BeadRow]:
        return rows_of(self._conn, after_seq)

    def tail(self, n: int = 20) -> list[BeadRow]:
        return newest_rows(self._conn, n)

    def export_jsonl(self, out: IO[str]) -> int:
        return export_jsonl(self.rows(), out)

    def verify(self) -> VerifyReport:
        return verify_store(self.path)

    def close(self) -> None:
        self._conn.close()
