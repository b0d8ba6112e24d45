"""A one-line widget drawn from its Rich `Text` straight to a strip."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


class TextLine(Widget):
    """One line of Rich `Text`, cut with an ellipsis at the widget's width.

    Textual draws a widget's `render()` through its `Content`: a status bar of twenty styled
    parts cost about 1.5 ms a frame, the same as thirty rows of the Orders table. Here the
    line's segments come from Rich directly, under the widget's own style (colour and
    background from CSS); Textual's line filters still apply to them."""

    def line(self) -> Text:
        """What the widget shows now (the styles cache pads it to the width)."""
        raise NotImplementedError

    def render(self) -> Text:
        """The line (Textual measures with it; it draws with `render_line`)."""
        return self.line()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y or width <= 0:
            return Strip.blank(width, base)
        text = self.line()
        console = self.app.console
        if text.style:  # `Text.render` leaves a text's own style to its caller
            base += console.get_style(text.style, default=Style.null())
        strip = Strip(Segment.apply_style(text.render(console), base))
        if strip.cell_length <= width:
            return strip
        cut = strip.crop(0, width - 1)
        style = next((segment.style for segment in reversed(cut) if segment.text), base)
        return Strip([*cut, Segment("…", style)]).simplify()  # the ellipsis as what it cuts
