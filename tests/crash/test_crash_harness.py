"""The crash harness in CI: ten SIGKILLs per crash point, restart, and the venue agrees."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from broker.sim.orders import OrderSpec
from broker.sim.venue import SimVenue
from console.drills.crash_harness import (
    ACCOUNT,
    PointResult,
    check_run,
    format_table,
    results_json,
    run_harness,
)
from contracts.enums import OrderType, Side
from engine import crashpoints
from engine.audit import AuditStore
from tests.crash import CHILD_PRELOAD

CRASHES_PER_POINT = 10


async def test_ten_crashes_per_point_lose_nothing_and_resend_nothing(tmp_path: Path) -> None:
    results = await run_harness(
        CRASHES_PER_POINT, root=tmp_path, preload=CHILD_PRELOAD, concurrency=CRASHES_PER_POINT
    )  # a point's runs at once: each waits mostly on pacing and polls, little on the CPU
    table = format_table(results)
    assert [r.point for r in results] == list(crashpoints.POINTS)
    for r in results:
        assert r.crashes == r.runs == CRASHES_PER_POINT, table  # each child died at its point
        assert (r.duplicates, r.lost_orders, r.lost_fills, r.unresolved) == (0, 0, 0, 0), (
            table + "\n" + "\n".join(r.problems)
        )
        assert r.integrity_failures == r.chain_failures == 0, table
    assert "duplicates 0, lost orders 0, lost fills 0, unresolved intents 0" in table


def test_the_checks_see_duplicates_and_orders_the_engine_does_not_know(tmp_path: Path) -> None:
    AuditStore(tmp_path / "audit.sqlite").close()  # an engine that never recorded anything
    venue = SimVenue(1)
    for _ in range(2):
        venue.submit(
            OrderSpec(
                account=ACCOUNT,
                symbol="AAPL",
                side=Side.BUY,
                quantity=Decimal(1),
                order_type=OrderType.LIMIT,
                limit_price=Decimal("100.00"),
                order_ref="dg:ghost:ENTRY",
            )
        )
    result = check_run(tmp_path, venue, placed_before_crash=1)
    assert result.duplicates == 2  # the same orderRef twice, and one placed after the crash
    assert result.lost_orders == 2
    assert not result.chain_ok  # an empty chain proves nothing


def test_a_crash_point_sits_between_the_synced_write_ahead_and_the_send() -> None:
    points = list(crashpoints.POINTS)
    assert points.index("intent_recorded") < points.index("write_ahead_synced")
    assert points.index("write_ahead_synced") < points.index("order_sent")


def test_the_result_is_written_as_json_for_the_gates(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    result = PointResult("order_sent", runs=50, crashes=50)
    out = json.loads(results_json([result], datetime(2026, 11, 30, tzinfo=UTC), 12.0))
    assert out["ok"] and out["per_point"] == 50 and out["crashes"] == 50
    assert out["points"][0]["point"] == "order_sent" and out["points"][0]["duplicates"] == 0
