"""The crash harness in CI: two SIGKILLs per crash point, restart, and the venue agrees."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from broker.sim.orders import OrderSpec
from broker.sim.venue import SimVenue
from console.drills.crash_harness import ACCOUNT, check_run, format_table, run_harness
from contracts.enums import OrderType, Side
from engine import crashpoints
from engine.audit import AuditStore


async def test_two_crashes_per_point_lose_nothing_and_resend_nothing(tmp_path: Path) -> None:
    results = await run_harness(2, root=tmp_path)
    table = format_table(results)
    assert [r.point for r in results] == list(crashpoints.POINTS)
    for r in results:
        assert r.crashes == r.runs == 2, table  # every child really died at its point
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
