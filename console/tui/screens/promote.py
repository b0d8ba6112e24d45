"""The promote screen (P): a strategy's shadow evidence, its refusals, and the typed T2 approval."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.tui.engine_api import ConsoleEngine
from console.tui.keymap import KILL_CHORD
from console.tui.text import printable
from console.tui.widgets.ordered_input import OrderedInput
from engine.promotion import EvidenceBundle
from engine.promotion_ceremony import EvidenceError, PromotionCeremony, read_shadow_sessions

HINT = f"enter = next · escape = close · {KILL_CHORD} = KILL switch"


class PromoteScreen(ModalScreen[None]):
    """Type a strategy: its evidence bundle and the request (refused with reasons, or a T2
    token); then the approver's name and the strategy typed again approve it, as the CLI does."""

    DEFAULT_CSS = """
    PromoteScreen { align: center middle; }
    PromoteScreen #promote { width: 90; height: auto; max-height: 100%; border: thick $accent;
        padding: 0 1; background: $surface; }
    PromoteScreen #promote-title { text-style: bold; }
    PromoteScreen Input { height: 1; border: none; padding: 0 1; margin: 0 0 0 2;
        background: $boost; }
    PromoteScreen Input:focus { border: none; background: $primary 40%; }
    PromoteScreen #promote-refusals { color: $error; }
    PromoteScreen #promote-hint { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, engine: ConsoleEngine, evidence: Path, requester: str | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.evidence = evidence
        self.requester = (requester or getpass.getuser()).strip()
        self.ceremony: PromotionCeremony | None = None
        self.bundle: EvidenceBundle | None = None
        self.token: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="promote"):
            yield Static("Promote a strategy SHADOW -> LIVE", id="promote-title")
            yield OrderedInput(placeholder="strategy", id="promote-strategy")
            yield Static("", id="promote-evidence")
            yield Static("", id="promote-refusals", markup=False)
            yield Static("", id="promote-request", markup=False)
            yield OrderedInput(
                placeholder="T2 approver name (not the requester)", id="promote-approver"
            )
            yield OrderedInput(
                placeholder="type the strategy again to approve", id="promote-confirm"
            )
            yield Static("", id="promote-result")
            yield Static(HINT, id="promote-hint", markup=False)

    def on_mount(self) -> None:
        for box in ("#promote-approver", "#promote-confirm"):
            self.query_one(box, Input).display = False
        self.query_one("#promote-strategy", Input).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#promote-strategy")
    def _strategy(self, event: Input.Submitted) -> None:
        event.stop()
        strategy = event.value.strip()
        if not strategy:
            self._say("refusals", "Type the strategy to promote.")
            return
        try:
            bundle = (
                read_shadow_sessions(self.evidence, strategy)
                if self.evidence.exists()
                else EvidenceBundle(strategy, ())
            )
        except EvidenceError as exc:
            self._say("refusals", str(exc))
            return
        self.bundle, self.ceremony = bundle, self.engine.promotion_ceremony()
        self.query_one("#promote-evidence", Static).update(_bundle_table(bundle, self.evidence))
        vetoes = self.ceremony.vetoes(bundle)
        self._say("refusals", "\n".join(f"refused: {v}" for v in vetoes))
        result, self.token = self.ceremony.request(bundle, self.requester)
        if self.token is None:
            self._result(False, "on the record; nothing promoted" if vetoes else result.message)
            return
        self._say(
            "request",
            f"requested by {self.requester}; a T2 approval by someone else is needed "
            "(single-use token, 5 min)",
        )
        event.input.disabled = True
        approver = self.query_one("#promote-approver", Input)
        approver.display = True
        self.query_one("#promote-confirm", Input).display = True
        approver.focus()

    @on(Input.Submitted, "#promote-approver")
    def _approver(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self._result(False, "the T2 approver's name is required")
            return
        self.query_one("#promote-confirm", Input).focus()

    @on(Input.Submitted, "#promote-confirm")
    def _confirm(self, event: Input.Submitted) -> None:
        event.stop()
        ceremony, bundle, token = self.ceremony, self.bundle, self.token
        if ceremony is None or bundle is None or token is None:
            return
        approver = self.query_one("#promote-approver", Input).value.strip()
        if not approver:
            self._result(False, "the T2 approver's name is required")
            self.query_one("#promote-approver", Input).focus()
            return
        self.token = None  # one attempt per request, as at the CLI
        for box in self.query(Input):
            box.disabled = True
        if event.value.strip() != bundle.strategy:
            ceremony.refuse(bundle.strategy, approver, ("typed confirmation did not match",))
            self._result(False, "typed confirmation did not match; nothing promoted")
            return
        outcome = ceremony.approve(bundle, token, self.requester, approver)
        self._result(outcome.ok, outcome.message)

    def _say(self, where: str, message: str) -> None:
        self.query_one(f"#promote-{where}", Static).update(printable(message))

    def _result(self, ok: bool, message: str) -> None:
        self.query_one("#promote-result", Static).update(
            Text.assemble(
                (" APPROVED " if ok else " REFUSED ", _style(ok)), " ", printable(message)
            )
        )


def _bundle_table(bundle: EvidenceBundle, evidence: Path) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", justify="right", no_wrap=True)
    grid.add_column()
    for key, value in bundle.summary().items():
        grid.add_row(key, value or "-")
    heading = Text.assemble(
        ("evidence ", "dim"),
        (printable(bundle.strategy), "bold"),
        (f" · from {evidence.name}", "dim"),
    )
    return Group(heading, grid)


def _style(ok: bool) -> str:
    return "bold black on #5fd75f" if ok else "bold white on #d70000"
