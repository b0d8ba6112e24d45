"""A tiny virtual terminal for the console benchmarks: enough of VT100 to read Textual's output."""

from __future__ import annotations

import re

WIDTH, HEIGHT = 120, 40

_TOKEN = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1bP[^\x1b]*\x1b\\"  # DCS
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|([^\x1b\r\n]+)"  # printable text
    r"|(\r)|(\n)"
)


class VirtualTerminal:
    """Cursor positioning + text only; what a trader would read on a WIDTH x HEIGHT screen."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.width, self.height = width, height
        self.cells = [[" "] * width for _ in range(height)]
        self.x = self.y = 0

    def feed(self, data: str) -> None:
        for m in _TOKEN.finditer(data):
            params, final, text, cr, nl = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)
            if final == "H" and params is not None and "?" not in params:
                parts = [int(p) if p else 1 for p in params.split(";")] if params else [1, 1]
                self.y = parts[0] - 1
                self.x = (parts[1] if len(parts) > 1 else 1) - 1
            elif final == "J" and params in ("2", "3"):
                self.cells = [[" "] * self.width for _ in range(self.height)]
            elif text:
                row = self.cells[self.y] if 0 <= self.y < self.height else None
                for ch in text:
                    if row is not None and 0 <= self.x < self.width:
                        row[self.x] = ch
                    self.x += 1
            elif cr:
                self.x = 0
            elif nl:
                self.y += 1
                self.x = 0

    def line(self, y: int) -> str:
        return "".join(self.cells[y])

    def region_lines(self, x: int, y: int, width: int, height: int) -> list[str]:
        return [
            "".join(self.cells[row][x : x + width])
            for row in range(y, min(y + height, self.height))
        ]
