"""Where off-screen alerts go: the terminal (bell and desktop-notification escapes) and apprise."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from contracts.enums import AlertLevel
from engine.notify import Notification

log = logging.getLogger("deskgate.notify")

NOTIFY_TYPES = {AlertLevel.CRITICAL: "failure", AlertLevel.WARNING: "warning"}
"""apprise's notify_type per level (services colour or prefix by it); anything else is info."""

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f;]")
"""C0/C1 controls end or hijack an escape sequence; ';' splits OSC 777's fields."""


def osc_safe(text: str, limit: int = 200) -> str:
    """`text` fit to ride inside an OSC string: no control characters, no field separators."""
    return _UNSAFE.sub(" ", text)[:limit]


def terminal_bytes(notification: Notification) -> str:
    """Bell, then OSC 777 (urxvt/foot/kitty; reaches a desktop through SSH) and OSC 9 (iTerm2,
    Windows Terminal, WezTerm). Terminals ignore the one they do not know."""
    title, body = osc_safe(notification.title), osc_safe(notification.body)
    return f"\a\x1b]777;notify;{title};{body}\x07\x1b]9;{title}: {body}\x07"


class TerminalSink:
    """Rings the trader's terminal through `write` (the console's driver output)."""

    name = "terminal"

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    async def send(self, notification: Notification) -> None:
        self._write(terminal_bytes(notification))


class AppriseSink:
    """Any notification service apprise knows (Telegram, Slack, email, ...) by its URLs."""

    name = "apprise"

    def __init__(self, urls: Sequence[str]) -> None:
        import apprise  # lazily: start-up does not pay for its plugin registry

        self._apprise: Any = apprise.Apprise()
        bad = [u for u in urls if not self._apprise.add(u)]
        if bad:  # name the scheme only: the rest of such a URL is usually a secret
            scheme = bad[0].split("://", 1)[0][:20]
            raise ValueError(f"alerts.apprise_urls: apprise does not know the URL '{scheme}://…'")

    async def send(self, notification: Notification) -> None:
        ok = await self._apprise.async_notify(
            title=osc_safe(notification.title, 120),
            body=osc_safe(notification.body, 1000),
            notify_type=NOTIFY_TYPES.get(notification.level, "info"),
        )
        if not ok:
            log.warning("apprise could not deliver %s", notification.code)
