"""The go-live gates panel: a list of (number, name, verdict, detail), or "not evaluated"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from console.tui.text import shown

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
    notes: tuple[str, ...] = ()
    """The numbers behind the verdict, failures, missing evidence and the action to take
    (shown on the gates screen)."""


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
    numbers = getattr(item, "numbers", ())
    notes = [" · ".join(f"{k} {v}" for k, v in numbers)] if numbers else []
    notes += [f"✗ {f}" for f in getattr(item, "failures", ())]
    notes += [f"… missing: {m}" for m in getattr(item, "missing", ())]
    if getattr(item, "action", ""):
        notes.append(f"→ {item.action}")
    return GateVerdict(
        int(getattr(item, "number", 0)),
        str(getattr(item, "name", "?")),
        str(getattr(verdict, "value", verdict)),
        str(getattr(item, "detail", "")),
        tuple(notes),
    )


def render_gates(gates: Iterable[GateVerdict] | None, *, notes: bool = False) -> Table | Text:
    """Gate verdicts as a table; `notes` adds failures / missing evidence / actions."""
    if gates is None:
        return Text(
            "Gates not evaluated.\nThe engine has not computed go-live gates yet.", style="dim"
        )
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
            shown(gate.name),
            shown(gate.detail, style="dim"),
        )
        if notes:
            for note in gate.notes:
                table.add_row(
                    "", "", "", shown(note, style="#ffaf00" if note.startswith("✗") else "dim")
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

    def __init__(self, *, notes: bool = False, id: str | None = None) -> None:
        super().__init__(render_gates(None), id=id)
        self.notes = notes
        self.gates: tuple[GateVerdict, ...] | None = None
        self.tier = ""
        self._shown = False

    def show(self, gates: tuple[GateVerdict, ...] | None, tier: str = "") -> None:
        if self._shown and (gates, tier) == (self.gates, self.tier):
            return
        self._shown = True
        self.gates, self.tier = gates, tier
        content = render_gates(gates, notes=self.notes)
        if tier:
            grid = Table.grid()
            grid.add_row(content)
            grid.add_row(shown(f"Scale-up: {tier}", style="bold #87afd7"))
            self.update(grid)
        else:
            self.update(content)


def tier_label(source: Any) -> str:
    """The scale-up tier in force, if the engine reports one."""
    tier = getattr(source, "scale_tier", None)
    return str(getattr(tier, "label", "")) if tier is not None else ""
