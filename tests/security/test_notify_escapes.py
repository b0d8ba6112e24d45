"""Attack: outside text inside a desktop-notification escape cannot end it and run its own."""

from __future__ import annotations

from console.notify_sinks import terminal_bytes
from contracts.enums import AlertLevel
from engine.notify import Notification

HOSTILE = "s\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x9b31m;notify;fake\x1b\\"


def test_hostile_alert_text_cannot_terminate_the_osc_or_inject_a_clipboard_write() -> None:
    out = terminal_bytes(Notification(AlertLevel.CRITICAL, "X", "deskgate " + HOSTILE, HOSTILE))
    assert out.count("\x1b") == 2  # only our own two OSC introducers
    assert out.count("\x07") == 3  # our bell and our two terminators
    assert "\x9b" not in out  # no C1 CSI either
    assert "\x1b]52" not in out  # no clipboard write
    title_field = out.split("\x1b]777;notify;", 1)[1].split(";", 1)[0]
    assert title_field.startswith("deskgate s")  # a ';' in the text did not open a new field
