"""The go-live gates panel: a list of (number, name, verdict, detail), or "not evaluated"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

VERDICT_STYLE = {
    "PASS": "bold black on #5fd75f",
    "FAIL": "bold white on #d70000",
    "PENDING": "bold black on #ffaf00",
    "WARN": "bold black on #ffaf00",
}


@dataclass(frozen=True)
class GateVerdict:
    number: int
    name: str
    verdict: str
    """PASS, FAIL, PENDING (anything else is shown as is)."""
    detail: str = ""


def gates_from(source: Any) -> tuple[GateVerdict, ...] | None:
    """Read gate verdicts from whatever the engine provides (tuples or objects); None if absent."""
    items = getattr(source, "gates", None)
    if items is None:
        return None
    return tuple(_one(item) for item in items)


def _one(item: Any) -> GateVerdict:
    if isinstance(item, GateVerdict):
        return item
    if isinstance(item, tuple):
        number, name, verdict, *rest = item
        return GateVerdict(int(number), str(name), str(verdict), str(rest[0]) if rest else "")
    verdict = getattr(item, "verdict", getattr(item, "status", "?"))
    return GateVerdict(
        int(getattr(item, "number", 0)),
        str(getattr(item, "name", "?")),
        str(getattr(verdict, "value", verdict)),
        str(getattr(item, "detail", "")),
    )


def render_gates(gates: Iterable[GateVerdict] | None) -> Table | Text:
    if gates is None:
        return Text("Gates not evaluated.\nThe engine has not computed go-live gates yet.",
                    style="dim")
    gates = list(gates)
    if not gates:
        return Text("Gates not evaluated (no gates defined).", style="dim")
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", style="dim")
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1)
    for gate in sorted(gates, key=lambda g: g.number):
        verdict = gate.verdict.upper()
        table.add_row(
            f"{gate.number}.",
            Text(f" {verdict} ", style=VERDICT_STYLE.get(verdict, "bold")),
            gate.name,
            Text(gate.detail, style="dim"),
        )
    passed = sum(1 for g in gates if g.verdict.upper() == "PASS")
    footer = Table.grid()
    footer.add_row(table)
    footer.add_row(Text(f"{passed}/{len(gates)} gates pass", style="bold"))
    return footer


class GatesPanel(Static):
    """Shows gate verdicts; `show(None)` means the engine has not evaluated any."""

    DEFAULT_CSS = """
    GatesPanel { height: auto; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(render_gates(None), id=id)
        self.gates: tuple[GateVerdict, ...] | None = None
        self._shown = False

    def show(self, gates: tuple[GateVerdict, ...] | None) -> None:
        if self._shown and gates == self.gates:
            return
        self._shown = True
        self.gates = gates
        self.update(render_gates(gates))
