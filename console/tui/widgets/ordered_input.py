"""The console's text box: every key it is typed acts in the order it was typed."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input

EDITING_KEYS: dict[str, str] = {
    key.strip(): binding.action
    for binding in Input.BINDINGS
    if isinstance(binding, Binding)
    for key in binding.key.split(",")
}
"""Input's own keys (backspace, delete, the arrows, home, end, enter...) and their actions."""


class OrderedInput(Input):
    """An Input whose editing keys act in turn with the characters typed around them.

    Textual inserts a typed character as soon as the box takes the key, but runs a key binding
    (backspace, enter...) only once the key has bubbled up to the app. In a burst the two
    crossed: `backspace backspace 5 enter` on a quantity of 100, meant as 15, put the 5 in
    first (1005), then deleted two characters and sent 10. Here the box runs its own bindings
    when it takes the key, in the order typed; keys it has no binding for go on as before."""

    async def _on_key(self, event: events.Key) -> None:
        action = EDITING_KEYS.get(event.key)
        if action is None:
            await super()._on_key(event)
            return
        event.stop()
        self._restart_blink()  # the cursor stays lit while keys arrive, as for a typed one
        await self.run_action(action)
