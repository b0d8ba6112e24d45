"""Approval tokens: 256-bit, single use, bound to intent + evidence + order, monotonic expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from enum import StrEnum

from contracts.enums import TokenRejection


def token_id_of(token: str) -> str:
    """A public id for a token (a hash prefix): safe for logs, useless for approving."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class TokenStatus(StrEnum):
    ISSUED = "ISSUED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    VOID = "VOID"


@dataclass
class _Entry:
    token_digest: bytes
    token_id: str
    intent_id: str
    evidence_hash: str
    params_hash: str
    expires_monotonic: float
    status: TokenStatus = TokenStatus.ISSUED
    void_reason: TokenRejection = TokenRejection.VOID_AFTER_RESTART


@dataclass(frozen=True)
class Redemption:
    ok: bool
    token_id: str | None
    rejection: TokenRejection | None = None


class TokenBook:
    """Issues and redeems tokens. Redemption is atomic: of two racing approvals, one wins.

    Only SHA-256 digests of tokens are kept, compared in constant time.
    """

    def __init__(self, lifetime_s: float) -> None:
        self.lifetime_s = lifetime_s
        self._by_id: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def issue(
        self, intent_id: str, evidence_hash: str, params_hash: str, monotonic_now: float
    ) -> tuple[str, str, float]:
        """A fresh token for the intent: (token, token_id, expires_monotonic)."""
        token = secrets.token_urlsafe(32)  # 32 bytes = 256 bits
        token_id = token_id_of(token)
        expires = monotonic_now + self.lifetime_s
        entry = _Entry(
            token_digest=hashlib.sha256(token.encode()).digest(),
            token_id=token_id,
            intent_id=intent_id,
            evidence_hash=evidence_hash,
            params_hash=params_hash,
            expires_monotonic=expires,
        )
        with self._lock:
            self._by_id[token_id] = entry
        return token, token_id, expires

    def redeem(
        self,
        token: str,
        intent_id: str,
        evidence_hash: str,
        params_hash: str,
        monotonic_now: float,
    ) -> Redemption:
        """Check and consume in one step under a lock; the token is USED if and only if ok."""
        if not token:
            return Redemption(False, None, TokenRejection.NO_TOKEN)
        token_id = token_id_of(token)
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            entry = self._by_id.get(token_id)
            if entry is None or not hmac.compare_digest(entry.token_digest, digest):
                return Redemption(False, None, TokenRejection.UNKNOWN_TOKEN)
            if entry.status is TokenStatus.USED:
                return Redemption(False, token_id, TokenRejection.ALREADY_USED)
            if entry.status is TokenStatus.VOID:
                return Redemption(False, token_id, entry.void_reason)
            if entry.status is TokenStatus.EXPIRED or monotonic_now >= entry.expires_monotonic:
                entry.status = TokenStatus.EXPIRED
                return Redemption(False, token_id, TokenRejection.EXPIRED)
            if entry.intent_id != intent_id:
                return Redemption(False, token_id, TokenRejection.WRONG_INTENT)
            if entry.evidence_hash != evidence_hash:
                return Redemption(False, token_id, TokenRejection.EVIDENCE_CHANGED)
            if entry.params_hash != params_hash:
                return Redemption(False, token_id, TokenRejection.PARAMS_CHANGED)
            entry.status = TokenStatus.USED
            return Redemption(True, token_id)

    def expire_due(self, monotonic_now: float) -> list[tuple[str, str]]:
        """Mark overdue ISSUED tokens EXPIRED; returns (token_id, intent_id) of each."""
        out: list[tuple[str, str]] = []
        with self._lock:
            for entry in self._by_id.values():
                if entry.status is TokenStatus.ISSUED and monotonic_now >= entry.expires_monotonic:
                    entry.status = TokenStatus.EXPIRED
                    out.append((entry.token_id, entry.intent_id))
        return out

    def void_for_intent(
        self, intent_id: str, reason: TokenRejection = TokenRejection.VOID_AFTER_RESTART
    ) -> list[str]:
        """Void every ISSUED token of an intent (rejected, denied, halted); returns their ids."""
        out: list[str] = []
        with self._lock:
            for entry in self._by_id.values():
                if entry.intent_id == intent_id and entry.status is TokenStatus.ISSUED:
                    entry.status = TokenStatus.VOID
                    entry.void_reason = reason
                    out.append(entry.token_id)
        return out
