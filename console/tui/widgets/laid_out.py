"""A Static whose Rich content is laid out once per change and width, then drawn from lines."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from textual.geometry import Size
from textual.widgets import Static


class LaidOutLines:
    """Lines of segments already laid out, rendered as they are."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines:
            yield from line
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = max((Segment.get_line_length(line) for line in self.lines), default=0)
        return Measurement(width, width)


class LaidOutStatic(Static):
    """Shows a Rich renderable (the evidence's label grid) laid out once for each new value
    and width. A Static lays a Rich table out when it measures its height and again when it
    draws it: about 10 ms a frame for the evidence body, and the frame a keystroke waits
    behind. `show` says whether the height changed (only then must the screen lay out)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.source: RenderableType = ""
        """What is shown, as given (drawn from its lines laid out at the current width)."""
        self._width = -1
        self._lines: list[list[Segment]] = []

    def show(self, source: RenderableType) -> bool:
        """Show `source`; True when its height differs from what is shown (or is unknown)."""
        self.source = source
        height = len(self._lines) if self._width > 0 else -1
        self._lay_out(self.content_size.width)
        self.refresh()
        return self._width <= 0 or len(self._lines) != height

    def _lay_out(self, width: int) -> None:
        """The source's lines at `width`, as Textual's Rich visual renders it."""
        self._width = width
        if width <= 0:
            self._lines = []
            return
        console = self.app.console
        options = self.app.console_options.update(highlight=False).update_width(width)
        segments = console.render(self.source, options)
        self._lines = list(
            Segment.split_and_crop_lines(segments, width, include_new_lines=False, pad=False)
        )

    def render(self) -> LaidOutLines:
        width = self.content_size.width
        if width != self._width:
            self._lay_out(width)
        return LaidOutLines(self._lines)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._lay_out(width)
        return len(self._lines)
