"""Snapshots of the desk screens: risk limits (L) and promotion (P); SVGs in `snapshots/`.

Update only after looking at the picture (`--snapshot-update`, then `rsvg-convert` each SVG).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.clock import ManualClock
from tests.console import scenarios
from tests.console.test_promote_screen import STRATEGY, record_shadow_sessions
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


def test_promote_screen_refusing_thin_evidence(snap_compare: Any, tmp_path: Path) -> None:
    record_shadow_sessions(tmp_path, n=12)
    engine = scenarios.with_pending(ManualClock())
    engine.config = engine.config.model_copy(update={"data_dir": str(tmp_path)})
    assert snap_compare(
        app_for(engine),
        terminal_size=WIDE,
        run_before=ready,
        press=["P", *STRATEGY, "enter"],
    )
