"""Modal dialogs: single-key confirmations (kill, flatten, quit), typed reasons, live start."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.console import RenderableType
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.tui.keymap import KILL_CHORD
from console.tui.widgets.ordered_input import OrderedInput

TEXT_DIALOG_HINT = f"enter = {{submit}} · escape = {{cancel}} · {KILL_CHORD} = KILL switch"
"""While a text box has focus every printable key is text (K too): the kill switch is a chord."""


class ConfirmScreen(ModalScreen[bool]):
    """Ask once; a single key confirms (`y`), `n` or escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", show=True),
        Binding("n,escape", "answer(False)", "No", show=True),
    ]

    def __init__(
        self, title: str, body: RenderableType, *, danger: bool = False, hint: str = ""
    ) -> None:
        super().__init__(classes="-danger" if danger else "")
        self.title_text = title
        self.body = body
        self.hint = hint or "y = confirm · n / escape = cancel"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title", markup=False)
            yield Static(self.body, id="dialog-body", markup=False)
            yield Static(self.hint, id="dialog-hint", markup=False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class QuitConfirmScreen(ConfirmScreen):
    """Quit while orders are working (they stay working at the broker)."""


TYPED_BURST_S = 0.3
"""A `y` this soon after the kill dialog opened was typed along with the K ("Kyle…"), not
read: it is refused. The kill key pressed again is a deliberate double tap and always kills."""


class KillConfirmScreen(ConfirmScreen):
    """The kill switch's one confirming keystroke: `y`, the kill key or the chord again.
    Every other key is ignored (a dialog keeps the app's single keys away). A `y` inside
    TYPED_BURST_S of the dialog opening is refused and said so; the next `y` kills."""

    def __init__(
        self,
        kill_keys: tuple[str, ...],
        kill_key_display: str,
        working: int,
        monotonic: Callable[[], float],
    ) -> None:
        orders = (
            f"{working} working order{'s' if working != 1 else ''}"
            if working
            else ("no working orders")
        )
        super().__init__(
            "KILL SWITCH",
            f"Cancel every order at the broker ({orders}) and HALT trading?",
            danger=True,
            hint=f"{kill_key_display}, {KILL_CHORD} or y = KILL · n / escape = cancel",
        )
        self.kill_keys = frozenset(kill_keys)
        self.kill_key_display = kill_key_display
        self.monotonic = monotonic
        self.opened_mono = monotonic()

    def on_key(self, event: Key) -> None:
        if event.key in self.kill_keys:
            event.stop()
            self.dismiss(True)

    def action_answer(self, answer: bool) -> None:
        waited = self.monotonic() - self.opened_mono
        if answer and waited < TYPED_BURST_S:
            self.app.bell()
            self.query_one("#dialog-hint", Static).update(
                f"y came {waited:.2f}s after the dialog opened: typed, not read."
                f" Press y again (or {self.kill_key_display}) to KILL · n / escape = cancel"
            )
            self.opened_mono = float("-inf")  # the next y is a deliberate answer
            return
        self.dismiss(answer)


class ReasonScreen(ModalScreen[str | None]):
    """Type a reason (or a note) and press enter; escape cancels (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        prompt: str,
        *,
        required: bool,
        danger: bool = False,
        noun: str = "reason",
    ) -> None:
        super().__init__(classes="-danger" if danger else "")
        self.title_text = title
        self.prompt = prompt
        self.required = required
        self.noun = noun

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="dialog-title", markup=False)
            yield Static(self.prompt, id="dialog-body", markup=False)
            yield OrderedInput(
                placeholder=self.noun + ("" if self.required else " (optional)"), id="reason"
            )
            yield Static("", id="dialog-error", markup=False)
            yield Static(
                TEXT_DIALOG_HINT.format(submit="submit", cancel="cancel"),
                id="dialog-hint",
                markup=False,
            )

    @on(Input.Submitted, "#reason")
    def _submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if self.required and not reason:
            self.query_one("#dialog-error", Static).update(f"A {self.noun} is required.")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LiveAccountScreen(ModalScreen[bool]):
    """Live mode starts only after the trader types the expected account id."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Exit")]
    MAX_ATTEMPTS = 3

    def __init__(self, expected: str) -> None:
        super().__init__(classes="-danger")
        self.expected = expected
        self.attempts = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("LIVE TRADING", id="dialog-title", markup=False)
            yield Static(
                "This console will send REAL orders. Type the live account id to start.",
                id="dialog-body",
            )
            yield OrderedInput(placeholder="account id", id="account")
            yield Static("", id="dialog-error", markup=False)
            yield Static(
                TEXT_DIALOG_HINT.format(submit="start live", cancel="exit"),
                id="dialog-hint",
                markup=False,
            )

    @on(Input.Submitted, "#account")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
            return
        self.attempts += 1
        if self.attempts >= self.MAX_ATTEMPTS:
            self.dismiss(False)
            return
        event.input.value = ""
        self.query_one("#dialog-error", Static).update(
            f"Account id does not match - live start refused "
            f"({self.MAX_ATTEMPTS - self.attempts} tries left)."
        )

    def action_cancel(self) -> None:
        self.dismiss(False)
