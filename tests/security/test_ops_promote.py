"""Attacks on the promotion ceremony: its T2 token works once, for the evidence it was shown."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from contracts.config import Config
from engine.audit import AuditStore
from engine.promotion import EvidenceBundle, SessionRecord, Stage, stage_of
from engine.promotion_ceremony import PromotionCeremony


def bundle(n: int = 20) -> EvidenceBundle:
    sessions = tuple(
        SessionRecord(
            date(2026, 1, 5) + timedelta(days=i),
            ("TREND", "RANGE")[i % 2],
            Decimal(5 - i % 3),
            Decimal("1.2"),
            0.9,
            0,
            10,
            1,
        )
        for i in range(n)
    )
    return EvidenceBundle("breakout", sessions)


def ceremony(tmp_path: Path) -> PromotionCeremony:
    return PromotionCeremony(Config(), AuditStore(tmp_path / "a.sqlite"))


def test_the_token_approves_once(tmp_path: Path) -> None:
    c = ceremony(tmp_path)
    result, token = c.request(bundle(), "quant")
    assert result.ok and token
    assert c.approve(bundle(), token, "quant", "cto").ok
    again = c.approve(bundle(), token, "quant", "cto")
    assert not again.ok and "ALREADY_USED" in again.message.upper()


def test_the_token_is_bound_to_the_evidence_shown(tmp_path: Path) -> None:
    c = ceremony(tmp_path)
    shown = bundle()
    _, token = c.request(shown, "quant")
    assert token
    worse = replace(
        shown, sessions=(*shown.sessions[:-1], replace(shown.sessions[-1], pnl=Decimal(-900)))
    )
    refused = c.approve(worse, token, "quant", "cto")
    assert not refused.ok and "EVIDENCE" in refused.message.upper()
    assert stage_of(c.book, "breakout") is Stage.SHADOW


def test_the_token_is_bound_to_the_requester(tmp_path: Path) -> None:
    c = ceremony(tmp_path)
    _, token = c.request(bundle(), "quant")
    assert token
    assert not c.approve(bundle(), token, "someone-else", "cto").ok
    assert stage_of(c.book, "breakout") is Stage.SHADOW
