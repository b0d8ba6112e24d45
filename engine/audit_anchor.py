"""The audit chain's secret key and its head anchor: two private files beside the store.

Why a keyed chain: with a plain SHA-256 chain anyone who can edit the SQLite file can recompute
every later hash and the chain still "verifies". Each bead's hash is therefore an HMAC-SHA256
under a 32-byte key kept in `<store>.key` (0600). Editing a row and re-hashing the chain needs
that key; a store copied, mailed or handed over as evidence without its key cannot be re-hashed,
and a store checked against a key the trader kept elsewhere cannot be forged by whoever held the
store. (Someone who can read the key file as the trader's uid can also forge it: the key guards
against tampering by anyone else, which is what file permissions cannot prove after the fact.)

Why an anchor: deleting the newest rows leaves a chain that is still internally consistent. The
anchor `<store>.head` (0600) holds the seq and hash of the newest committed bead, rewritten in
place after every commit (synced off the event loop), and MACed with the key so no one without the
key can write one for a head it never recorded. A store whose head is older than its anchor lost
beads. The anchor may lag the store by one commit after a crash (it is written after the commit),
never lead it. The order path syncs the write-ahead commit before the order leaves and this anchor
just after (`write_ahead`): a crash in between leaves the same one-commit lag. (An old copy of the
anchor, put back, would hide a truncation back to that point: keep a copy of the anchor elsewhere
when that matters.)

Stores written before the key existed ("legacy"): the first engine that opens one creates the
key and keys every bead after the existing head; the anchor records that boundary
(`keyed_from`). Verify then checks the legacy prefix with the plain hash and says that edits in
it cannot be ruled out; a legacy store never opened by this version has no anchor and fails verify
with a message saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32
RECORD_BYTES = 320


class AnchorError(ValueError):
    """The key or anchor file is missing, unreadable or does not match its MAC."""


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    keyed_from: int
    """The first seq hashed with the key; beads before it are a legacy, unkeyed prefix."""


def key_path(store: Path) -> Path:
    return store.with_name(store.name + ".key")


def anchor_path(store: Path) -> Path:
    return store.with_name(store.name + ".head")


def bead_hash(prev_hash: str, seq: int, ts: str, kind: str, payload: str, key: bytes | None) -> str:
    """The chain link: HMAC-SHA256 under `key`, or plain SHA-256 for a legacy bead (key None)."""
    message = f"{prev_hash}\x1f{seq}\x1f{ts}\x1f{kind}\x1f{payload}\x1f".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.digest(key, message, "sha256").hex()


def load_key(store: Path) -> bytes | None:
    """The chain key, or None when the store has none yet."""
    path = key_path(store)
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(f"{path}: unreadable key file ({exc})") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise AnchorError(f"{path}: not a deskgate chain key ({KEY_BYTES} bytes in hex)")
    return key


def create_key(store: Path) -> bytes:
    """A new random key, written 0600 and fsynced; refuses to replace an existing one."""
    key = secrets.token_bytes(KEY_BYTES)
    _write_private(key_path(store), key.hex() + "\n")
    return key


def _anchor_mac(key: bytes, seq: int, head: str, keyed_from: int) -> str:
    message = f"deskgate-anchor\x1f{seq}\x1f{head}\x1f{keyed_from}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class AnchorFile:
    """The anchor, kept open: each update is one fixed-size pwrite in place, then fdatasync.

    The record is padded to RECORD_BYTES (well under a disk sector), so an update is one block
    written over the same offsets: no rename, no metadata. The fdatasync runs on a background
    thread, so the event loop (and an order's acknowledgement) never waits on the anchor's disk:
    the anchor is written after its commit is synced, so a late sync only lets it lag. A sync the
    disk refused is raised by the next `write` (or `wait`, `close`), before anything more is
    written."""

    def __init__(self, store: Path) -> None:
        self.path = anchor_path(store)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.fchmod(self._fd, 0o600)
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anchor-sync")
        self._sync: Future[None] | None = None
        self._refused: OSError | None = None

    def write(self, key: bytes, anchor: Anchor) -> None:
        self.raise_refused()
        record = {
            "seq": anchor.seq,
            "hash": anchor.hash,
            "keyed_from": anchor.keyed_from,
            "mac": _anchor_mac(key, anchor.seq, anchor.hash, anchor.keyed_from),
        }
        data = (json.dumps(record) + "\n").ljust(RECORD_BYTES).encode()
        os.pwrite(self._fd, data, 0)
        queued = self._sync is not None and not (self._sync.running() or self._sync.done())
        if not queued:  # a sync not started yet covers this write too
            self._sync = self._syncer.submit(self._fdatasync)

    def _fdatasync(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            self._refused = exc

    def raise_refused(self) -> None:
        """Raise a sync the disk refused in the background (once), without waiting."""
        refused, self._refused = self._refused, None
        if refused is not None:
            raise refused

    def wait(self) -> None:
        """Block until every write so far is synced; raise a sync the disk refused."""
        if self._sync is not None:
            self._sync.result()
        self.raise_refused()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._syncer.shutdown(wait=True)
            os.close(self._fd)


def read_anchor(store: Path, key: bytes) -> Anchor | None:
    """The anchor, checked against the key; None when there is none."""
    path = anchor_path(store)
    try:
        record = json.loads(path.read_text("utf-8").strip())
        anchor = Anchor(int(record["seq"]), str(record["hash"]), int(record["keyed_from"]))
        mac = str(record["mac"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnchorError(f"{path}: unreadable head anchor ({exc})") from exc
    expected = _anchor_mac(key, anchor.seq, anchor.hash, anchor.keyed_from)
    if not hmac.compare_digest(mac, expected):
        raise AnchorError(f"{path}: head anchor does not match its MAC (edited or foreign key)")
    return anchor


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def chmod_private(*paths: Path) -> None:
    """Make existing files 0600 (files that do not exist yet are skipped)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.chmod(0o600)
