"""Snapshots of the desk screens: risk limits (L) and promotion (P); SVGs in `snapshots/`.

Update only after looking at the picture (`--snapshot-update`, then `rsvg-convert` each SVG).
"""

from __future__ import annotations

from typing import Any

from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.test_snapshots import SMALL, WIDE, app_for, ready


def test_limits_screen_asking_a_reason_to_loosen(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_pending(ManualClock())),
        terminal_size=WIDE,
        run_before=ready,
        press=["L", "down", "down", "down", "enter", "1", "0", "enter"],
    )


def test_limits_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(
        app_for(scenarios.with_pending(ManualClock())),
        terminal_size=SMALL,
        run_before=ready,
        press=["L"],
    )
