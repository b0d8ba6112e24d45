"""Snapshots of the lists on a busy day: orders with style and legs, the order history, the
fills blotter, a `/` filter, audit paging, wrapped alerts; at 120x40, 80x24 and tiled.

Update only after looking at the picture (see test_snapshots.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from engine.clock import ManualClock
from tests.console.desk_day import busy_day
from tests.console.test_snapshots import BIG, SMALL, WIDE, app_for, ready


def pressing(*keys: str) -> Callable[[Any], Awaitable[None]]:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def snap(snap_compare: Any, size: tuple[int, int], *keys: str) -> bool:
    return bool(
        snap_compare(
            app_for(busy_day(ManualClock())), terminal_size=size, run_before=pressing(*keys)
        )
    )


def test_orders_with_style_and_legs(snap_compare: Any) -> None:
    assert snap(snap_compare, WIDE, "3")


def test_orders_with_style_and_legs_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, SMALL, "3")


def test_order_history(snap_compare: Any) -> None:
    assert snap(snap_compare, WIDE, "3", "h")


def test_order_history_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, SMALL, "3", "h")


def test_fills_blotter(snap_compare: Any) -> None:
    assert snap(snap_compare, WIDE, "8")


def test_fills_blotter_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, SMALL, "8")


def test_orders_filtered(snap_compare: Any) -> None:
    assert snap(snap_compare, WIDE, "3", "slash", *"msft")


def test_fills_sorted_by_quantity_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, SMALL, "8", "s", "s", "s")


def test_audit_second_page(snap_compare: Any) -> None:
    assert snap(snap_compare, WIDE, "l", "pagedown")


def test_audit_oldest_page_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, SMALL, "l", "end")


def test_alerts_wrapped(snap_compare: Any) -> None:
    assert snap(snap_compare, WIDE, "6")


def test_alerts_wrapped_80x24(snap_compare: Any) -> None:
    assert snap(snap_compare, SMALL, "6")


def test_busy_day_tiled(snap_compare: Any) -> None:
    assert snap(snap_compare, BIG)
