"""Unresolved reconciliation drift: plain-words formatting, the drift table, the main banner."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from console.tui import format as fmt
from console.tui.text import printable, shown
from console.tui.widgets.tables import SnapshotTable
from contracts.enums import DriftResolution, DriftSeverity, DriftType
from contracts.events import DriftDetected

SEVERITY_STYLE = {
    DriftSeverity.CRITICAL: "bold white on #d70000",
    DriftSeverity.HIGH: "bold black on #ffaf00",
    DriftSeverity.LOW: "bold",
}
SEVERITY_ORDER = {DriftSeverity.CRITICAL: 0, DriftSeverity.HIGH: 1, DriftSeverity.LOW: 2}

TYPE_LABEL = {
    DriftType.POSITION_SIZE: "position size",
    DriftType.ORDER_MISSING_AT_BROKER: "order gone at broker",
    DriftType.EXIT_MISSING_AT_BROKER: "stop/target gone at broker",
    DriftType.FOREIGN_ORDER: "order not placed by deskgate",
    DriftType.FILL_MISMATCH: "fill mismatch",
    DriftType.STATUS_MISMATCH: "status mismatch",
    DriftType.PNL_MISMATCH: "P&L mismatch",
}

RESOLUTIONS: tuple[tuple[str, DriftResolution, str, str], ...] = (
    (
        "e",
        DriftResolution.ENGINE_CORRECTED,
        "Adopt broker",
        "the engine was wrong: it adopts the broker's side (position, order status, fills)",
    ),
    (
        "b",
        DriftResolution.BROKER_CORRECTED,
        "Broker fixed",
        "I fixed it at the broker (e.g. in TWS): the next reconciliation must agree",
    ),
    (
        "k",
        DriftResolution.ACKNOWLEDGED,
        "Ack",
        "a known, accepted difference: not raised again while it stays the same",
    ),
)
"""The drift screen's single keys: key, resolution, footer label, what it does (trader's words)."""

_ORDER_KEYS = ("side", "quantity", "symbol", "status", "filled")
_SHORT_KEYS = {"quantity": "qty", "fill_ratio": "fill", "avg_price": "avg"}


def side_text(state: dict[str, str], *, brief: bool = False) -> str:
    """One side of a drift in words: `BUY 5 MSFT WORKING`, `quantity 30 · fill ratio 10/10`.

    `brief` keeps only the first fact, with short names (`qty 30`), for table cells.
    """
    if state == {"known": "no"}:
        return "not ours" if brief else "not placed by deskgate"
    if not state:
        return "-"
    parts: list[str] = []
    rest = dict(state)
    if {"side", "quantity", "symbol"} <= state.keys():
        order = f"{state['side']} {state['quantity']} {state['symbol']}"
        if state.get("status"):
            order += f" {state['status']}"
        if _nonzero(state.get("filled")):
            order += f" filled {state['filled']}"
        parts.append(order)
        for key in _ORDER_KEYS:
            rest.pop(key, None)
    for key, value in rest.items():
        if value:
            name = _SHORT_KEYS.get(key, key) if brief else key.replace("_", " ")
            parts.append(f"{name} {value}")
    return printable(parts[0] if brief and parts else " · ".join(parts))


def _nonzero(value: str | None) -> bool:
    if not value:
        return False
    try:
        return Decimal(value) != 0
    except InvalidOperation:
        return True


def severity_text(severity: DriftSeverity, *, brief: bool = False) -> Text:
    label = severity.value[:4] if brief else severity.value
    return Text(f" {label} ", style=SEVERITY_STYLE[severity])


def drift_line(drift: DriftDetected, *, brief: bool = False) -> str:
    """`position size MSFT: engine quantity 30 / broker quantity 40` (brief: `POSITION_SIZE
    MSFT: engine qty 30 / broker qty 40`)."""
    kind = drift.drift_type.value if brief else TYPE_LABEL.get(drift.drift_type, drift.drift_type)
    engine = side_text(drift.engine_state, brief=brief)
    broker = side_text(drift.broker_state, brief=brief)
    return f"{kind} {printable(drift.subject)}: engine {engine} / broker {broker}"


def by_severity(drifts: tuple[DriftDetected, ...]) -> tuple[DriftDetected, ...]:
    """Most severe first, then oldest first (stable)."""
    return tuple(sorted(drifts, key=lambda d: SEVERITY_ORDER.get(d.severity, 9)))


class DriftTable(SnapshotTable):
    """Every unresolved drift; the cursor row is the one a resolution key acts on."""

    COLUMNS = (
        ("Sev", "severity"),
        ("Type", "type"),
        ("Subject", "subject"),
        ("Engine", "engine"),
        ("Broker", "broker"),
        ("Age", "age"),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.drifts: tuple[DriftDetected, ...] = ()

    def show(self, drifts: tuple[DriftDetected, ...], now: datetime) -> None:
        self.drifts = by_severity(drifts)
        self.set_rows(
            [
                (
                    d.drift_id,
                    (
                        severity_text(d.severity, brief=True),
                        Text(d.drift_type.value, style="bold"),
                        shown(d.subject),
                        Text(side_text(d.engine_state, brief=True)),
                        Text(side_text(d.broker_state, brief=True), style="bold"),
                        Text(fmt.age(fmt.since(now, d.ts_event) or 0.0), justify="right"),
                    ),
                )
                for d in self.drifts
            ]
        )

    @property
    def selected(self) -> DriftDetected | None:
        if not self.drifts or not 0 <= self.cursor_row < len(self.drifts):
            return None
        return self.drifts[self.cursor_row]


class DriftBanner(Widget):
    """A red line on the main screen while any drift is unresolved; hidden otherwise."""

    DEFAULT_CSS = """
    DriftBanner {
        height: 1; width: 1fr; background: #3a0000; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, drift_key: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.drift_key = drift_key
        self.drifts: tuple[DriftDetected, ...] = ()

    def show(self, drifts: tuple[DriftDetected, ...]) -> None:
        self.display = bool(drifts)
        if drifts != self.drifts:
            self.drifts = drifts
            self.refresh()

    def render(self) -> RenderResult:
        line = Text(no_wrap=True, overflow="ellipsis")
        if not self.drifts:
            return line
        count = len(self.drifts)
        line.append(f" {count} DRIFT ", style="bold white on #d70000")
        line.append(f" {self.drift_key} = resolve ", style="bold black on #ffaf00")
        line.append(" " + drift_line(by_severity(self.drifts)[0], brief=True), style="bold")
        if count > 1:
            line.append(f" (+{count - 1} more)", style="bold #ff8787")
        line.append(" · unresolved: no new risk until resolved", style="#ff8787")
        return line
