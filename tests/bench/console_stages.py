"""Where approve -> painted goes (stage marks), and the Textual floor it is measured against.

`StageMarks` times, from the approve keystroke, the first moment of each stage in `STAGES`; the
live benchmark (`bench_console_live`, part a) adds their rows next to "row painted".

The floor (`StageMarks.floor`): a bare Textual app whose one DataTable (30 rows x 9 columns,
like a busy Orders panel) fills the same screen; a key changes one cell; the time from the key
to the frame holding the new text. Nothing else runs: this is what Textual costs for a change
at this screen size (its 60 Hz frame timer, the widget -> screen refresh messages, the render).
Figures: approve_textual_floor_p50_ms, approve_textual_floor_p99_ms. A row (no figure) gives the
same for a one-line Static under the table: Textual's frame path with the least to draw.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from console.tui.app import DeskgateApp
from engine.engine import Engine
from tests.bench.report import pct

STAGES = {
    "key": "keystroke handled (action_approve called)",
    "approved": "engine.approve returned",
    "event": "order event in the app (snapshot taken)",
}


class StageMarks:
    """Wraps the app's approve action, the engine's approve and the app's refresh from the
    engine (instance attributes: the classes are untouched) to time each stage."""

    def __init__(self, app: DeskgateApp, engine: Engine) -> None:
        self.t0 = 0.0
        self.marks: dict[str, float] = {}
        self.samples: dict[str, list[float]] = {name: [] for name in STAGES}
        self.floor_samples: list[float] = []
        self.line_floor_samples: list[float] = []
        action, approve, refresh = app.action_approve, engine.approve, app._refresh_from_engine
        marks = self.marks

        def marked_action() -> Any:
            marks.setdefault("key", time.perf_counter())
            return action()  # Textual awaits it

        async def marked_approve(*args: Any, **kwargs: Any) -> Any:
            result = await approve(*args, **kwargs)
            marks.setdefault("approved", time.perf_counter())
            return result

        def marked_refresh() -> None:
            if "approved" in marks:
                marks.setdefault("event", time.perf_counter())
            refresh()

        app.action_approve = marked_action  # type: ignore[method-assign]
        engine.approve = marked_approve  # type: ignore[method-assign]
        app._refresh_from_engine = marked_refresh  # type: ignore[method-assign]

    def start(self) -> float:
        """A keystroke is about to be sent: forget the last one's marks; the start time."""
        self.marks.clear()
        self.t0 = time.perf_counter()
        return self.t0

    def keep(self) -> None:
        """The row was painted: keep this approval's marks (ms after `start`)."""
        for name, at in self.marks.items():
            self.samples[name].append((at - self.t0) * 1000)

    def rows(self, row: Callable[[list[float]], str]) -> dict[str, str]:
        got = {f"approve -> {STAGES[n]}": row(s) for n, s in self.samples.items() if s}
        if self.floor_samples:
            got["Textual floor: key -> one cell painted (bare DataTable)"] = row(self.floor_samples)
            got["Textual floor: key -> one Static line painted"] = row(self.line_floor_samples)
        return got

    async def floor(self, samples: int, size: tuple[int, int]) -> dict[str, float]:
        """Measure the floor (`textual_floor`); its figures."""
        self.floor_samples = await textual_floor(samples, size)
        self.line_floor_samples = await textual_floor(samples, size, key="y")
        return {
            "approve_textual_floor_p50_ms": pct(self.floor_samples, 50),
            "approve_textual_floor_p99_ms": pct(self.floor_samples, 99),
        }


class FloorTable(App[None]):
    """A DataTable over most of the screen and a one-line Static under it; `x` writes `marker`
    into a cell of the table's top row, `y` into the line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "change", "Change a cell"),
        Binding("y", "change_line", "Change the line"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marker = ""

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static("", id="line")

    def on_mount(self) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        table.add_columns(*(f"column {c}" for c in range(9)))
        for r in range(30):
            table.add_row(*(f"r{r:02d} c{c}" for c in range(9)), key=str(r))
        table.focus()

    def action_change(self) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        table.update_cell("0", table.ordered_columns[3].key, self.marker)

    def action_change_line(self) -> None:
        self.query_one("#line", Static).update(self.marker)


async def textual_floor(samples: int, size: tuple[int, int], key: str = "x") -> list[float]:
    """Milliseconds from `key` to the first frame whose output holds the changed text."""
    app = FloorTable()
    painted = asyncio.Event()
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        original(screen, renderable)
        drawn = hasattr(renderable, "render_segments") and app.marker
        if drawn and app.marker in renderable.render_segments(app.console):
            painted.set()

    app._display = display  # type: ignore[method-assign]
    rng = random.Random(5)
    took: list[float] = []
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        for i in range(samples):
            await asyncio.sleep(rng.uniform(0.05, 0.25))  # as the live benchmark's trader
            app.marker = f"M{i:05d}"
            painted.clear()
            t0 = time.perf_counter()
            app.post_message(events.Key(key, key))
            await asyncio.wait_for(painted.wait(), 10)
            took.append((time.perf_counter() - t0) * 1000)
    return took
