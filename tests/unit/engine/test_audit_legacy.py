"""A store written before the chain key: keyed from its next bead, its prefix still checked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.enums import AlertLevel
from contracts.events import AlertRaised
from engine.audit import AuditStore, AuditUnavailable
from engine.audit_anchor import anchor_path, key_path
from engine.audit_verify import verify_store

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def alert(n: int) -> AlertRaised:
    return AlertRaised(ts_event=NOW, ts_init=NOW, level=AlertLevel.INFO, code="T", message=str(n))


def legacy_store(path: Path, n: int) -> None:
    """Write beads, then drop the key and anchor: what an older deskgate left behind."""
    store = AuditStore(path)
    store._key = None  # type: ignore[assignment]  # older deskgate: plain SHA-256 links
    store._keyed_from = n + 1
    for i in range(n):
        store.append(alert(i))
    store._conn.executemany(
        "INSERT INTO beads (seq, ts, kind, intent_id, payload, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (r.seq, r.ts, r.kind, r.intent_id, r.payload, r.prev_hash, r.hash)
            for r, _ in store._pending
        ],
    )
    store._pending.clear()
    store._conn.close()
    key_path(path).unlink()
    anchor_path(path).unlink()


def test_a_legacy_store_fails_verify_until_the_engine_keys_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    legacy_store(path, 4)
    report = verify_store(path)
    assert not report.ok and "legacy store" in report.problems[0]
    store = AuditStore(path)  # the engine opens it: key created, keyed from seq 5
    store.append_durable(alert(99))
    store.close()
    report = verify_store(path)
    assert report.ok and report.checked == 5
    assert report.notes and "1..4 predate the chain key" in report.notes[0]


def test_a_removed_key_stops_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    store = AuditStore(path)
    store.append_durable(alert(1))
    store.close()
    key_path(path).unlink()
    report = verify_store(path)
    assert not report.ok and "key was removed" in report.problems[0]
    with pytest.raises(AuditUnavailable, match="chain key is missing"):
        AuditStore(path)


def test_the_chain_link_is_the_same_digest_every_deskgate_wrote() -> None:
    """Stores on disk were linked with these digests: a faster hash must produce the same bytes,
    keyed (HMAC-SHA256) and legacy (SHA-256), non-ASCII payloads included."""
    from engine.audit_anchor import bead_hash

    link = ("0" * 64, 7, "2026-11-30T09:00:00+00:00", "FILL", '{"price":"1.25","note":"é ✓"}')
    assert bead_hash(*link, None) == (
        "51cba9ad380a730a718606fa64eff069fb2ec1abb4fcea181455f72929bde7e8"
    )
    assert bead_hash(*link, bytes(range(32))) == (
        "c380d1f1a871d7827fc605c57c2f60c9b2cea901a2d8ddf8378c7cb324f44be8"
    )
