"""The chaos suite's registry: seed 004's 17 CV_S32 vectors plus the extras, run and reported."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from console.drills import chaos, chaos_ibkr
from console.drills.chaos import Rig, VectorResult, expect, rig
from contracts.events import KillFlagRaised
from engine.promotion import EvidenceBundle, SessionRecord, Stage

STRATEGY = "breakout"


def shadow_bundle(
    sessions: int = 20, regimes: tuple[str, ...] = ("NORMAL", "NEAR_NEWS")
) -> EvidenceBundle:
    """Recorded shadow sessions: 20 over two regimes is enough; fewer is partial evidence."""
    start = date(2026, 1, 5)
    return EvidenceBundle(
        STRATEGY,
        tuple(
            SessionRecord(start + timedelta(days=i), regimes[i % len(regimes)],
                          Decimal(5), Decimal(1), 0.7, 0, 12, 1)
            for i in range(sessions)
        ),
    )  # fmt: skip


def promotion_beads(r: Rig) -> list[str]:
    return [k for k in r.beads() if k.startswith("PROMOTION")]


async def promotion_bypass(r: Rig) -> tuple[str, str]:
    direct = r.engine.approve_promotion(STRATEGY, "cto", "T2")
    expect(not direct.ok and "no promotion request" in direct.message, direct.message)
    expect(r.engine.request_promotion(shadow_bundle(), requester="quant").ok, "request refused")
    own = r.engine.approve_promotion(STRATEGY, "quant", "T2")
    expect(not own.ok and "own promotion" in own.message, f"self-approval: {own.message}")
    expect(r.engine.strategy_stage(STRATEGY) is Stage.SHADOW, "promoted without approval")
    refused = promotion_beads(r).count("PROMOTION_REFUSED")
    return "live without a shadow request, and self-approval, refused; still SHADOW", (
        f"{refused} PROMOTION_REFUSED beads, stage SHADOW"
    )


async def promotion_partial(r: Rig) -> tuple[str, str]:
    result = r.engine.request_promotion(shadow_bundle(12, ("NORMAL",)), requester="quant")
    expect(not result.ok, "12 sessions in one regime were accepted")
    missing = [m for m in ("sessions: 12 of 20", "regimes: 1 of 2") if m in result.message]
    expect(len(missing) == 2, f"missing requirements not listed: {result.message}")
    expect(r.engine.strategy_stage(STRATEGY) is Stage.SHADOW, "promoted on partial evidence")
    return f"partial evidence refused: {result.message}", f"{len(missing)} requirements listed"


async def promotion_veto(r: Rig) -> tuple[str, str]:
    expect(r.engine.request_promotion(shadow_bundle(), requester="quant").ok, "request refused")
    r.engine.recorder.emit(
        KillFlagRaised(**r.engine.recorder.now_pair(), flag="STATE_CONFLICT", reason="chaos")
    )
    vetoed = r.engine.approve_promotion(STRATEGY, "cto", "T2")
    expect(not vetoed.ok and "STATE_CONFLICT" in vetoed.message, f"answered {vetoed.message}")
    expect(r.engine.strategy_stage(STRATEGY) is Stage.SHADOW, "promoted under a kill flag")
    return (
        f"promotion with an active kill flag refused: {vetoed.message}",
        "kill flag cited, SHADOW",
    )


Vector = Callable[[Rig], Awaitable[tuple[str, str]]]

SEED_VECTORS: dict[str, tuple[str, Vector]] = {
    "CV_S32_TOKEN_REPLAY": ("token replay", chaos.token_replay),
    "CV_S32_TOKEN_EXPIRED": ("expired token", chaos.expired_token),
    "CV_S32_TOKEN_WRONG_INTENT": ("token for another intent", chaos.token_for_another_intent),
    "CV_S32_ORDER_WITHOUT_TOKEN": ("order with no token", chaos.order_without_token),
    "CV_S32_TOKEN_RACE": ("two validations racing for one token", chaos.racing_validations),
    "CV_S32_IBKR_TIMEOUT": ("broker timeout → STALLED + alert", chaos.broker_timeout),
    "CV_S32_IBKR_REJECTION": ("broker rejection (insufficient margin)", chaos.broker_rejection),
    "CV_S32_FILL_PARTIAL": ("50 % partial fill", chaos.partial_fill),
    "CV_S32_PARTIAL_DRIFT": ("50 % fill while the broker reports 60 %", chaos.fill_ratio_drift),
    "CV_S32_RECONCILIATION_DRIFT": ("wrong broker position", chaos.wrong_position),
    "CV_S32_ORDER_RACE": ("two orders for the same intent at once", chaos.same_intent_twice),
    "CV_S32_LIFECYCLE_INVALID": ("forced invalid transition", chaos.forced_invalid_transition),
    "CV_S32_PROMOTION_BYPASS": ("live trading without a shadow period", promotion_bypass),
    "CV_S32_PROMOTION_PARTIAL": ("promotion with incomplete evidence", promotion_partial),
    "CV_S32_PROMOTION_VETO": ("promotion with an active kill flag", promotion_veto),
    "CV_S32_KILL_ENTRY_ATTEMPT": ("order while the kill flag is active", chaos.kill_flag_active),
    "CV_S32_STALE_APPROVAL": ("approval after 16 minutes of stale state", chaos.stale_approval),
}
"""Seed 004's vectors, in its wave order."""

EXTRA_VECTORS: dict[str, tuple[str, Vector]] = {
    "kill_while_disconnected": (
        "kill switch while disconnected",
        chaos_ibkr.kill_while_disconnected,
    ),
    "kill_with_queue": ("kill with 200 messages queued", chaos_ibkr.kill_with_queue),
    "fill_after_cancel": ("fill after a cancel", chaos_ibkr.fill_after_cancel),
    "failed_modify": ("failed modify, order still live", chaos_ibkr.failed_modify),
    "gap_fill_1101": ("1100 → 1101 with a fill in the gap", chaos_ibkr.gap_fill_1101),
    "gap_fill_1102": ("1100 → 1102 with a fill in the gap", chaos_ibkr.gap_fill_1102),
    "farm_status": ("farm-status warnings", chaos_ibkr.farm_status),
    "live_port_refused": ("live port without confirmation", chaos_ibkr.live_port_refused),
    "changed_while_down": (
        "orders cancelled / filled while deskgate was down",
        chaos_ibkr.changed_while_down,
    ),
}
"""What IBKR users actually hit (issue #5), beyond the seed."""

VECTORS: dict[str, tuple[str, Vector]] = {**SEED_VECTORS, **EXTRA_VECTORS}


async def run_vector(name: str, data_dir: Path) -> VectorResult:
    """Run one vector in a fresh rig; failures become a FAIL result, never an exception."""
    title, vector = VECTORS[name]
    started = time.monotonic()
    try:
        async with rig(data_dir) as r:
            line, figure = await asyncio.wait_for(vector(r), 60)
        passed = True
    except Exception as exc:  # the report must name every failure, whatever it is
        passed, line, figure = False, f"{type(exc).__name__}: {exc}", "-"
    return VectorResult(name, title, passed, line, figure, time.monotonic() - started)


async def run_all(
    root: Path,
    names: list[str] | None = None,
    on_result: Callable[[VectorResult], None] | None = None,
) -> list[VectorResult]:
    results = []
    for name in names or list(VECTORS):
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        results.append(await run_vector(name, directory))
        if on_result is not None:
            on_result(results[-1])
    return results


def report_markdown(results: list[VectorResult], when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    passed = sum(r.passed for r in results)
    seed = [r for r in results if r.name in SEED_VECTORS]
    lines = [
        "# Chaos report",
        "",
        f"Run {when:%Y-%m-%d %H:%M} UTC: the real engine and IbkrBroker (ib_async) against the "
        "TWS-protocol gateway on loopback, one fresh venue and data dir per vector. "
        f"**{passed}/{len(results)} passed** ({sum(r.passed for r in seed)}/{len(SEED_VECTORS)} "
        "of seed 004's CV_S32 vectors).",
        "",
        "| # | name | vector | result | what happened | figure |",
        "| ---: | --- | --- | --- | --- | --- |",
    ]
    for n, r in enumerate(results, start=1):
        line = r.line.replace("|", "/").replace("\n", " ")
        verdict = "PASS" if r.passed else "FAIL"
        lines.append(f"| {n} | {r.name} | {r.title} | {verdict} | {line} | {r.figure} |")
    return "\n".join(lines) + "\n"
