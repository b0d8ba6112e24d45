"""Latency histograms (plotext), the trader's time apart from the engine's, with p50/p95/p99."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from console.tui import format as fmt
from engine.view import LatencyView

if TYPE_CHECKING:  # plotext loads when a histogram is first drawn, not with the first frame
    from textual_plotext import PlotextPlot

HIST_BINS = 12
STAGES: tuple[tuple[str, str], ...] = (
    ("intent_to_approve", "TRADER\nintent→approve"),
    ("approve_to_submit", "ENGINE\napprove→submit"),
    ("submit_to_ack", "ENGINE+IB\nsubmit→ack"),
    ("ack_to_fill", "MARKET\nack→fill"),
)
"""The trader's time first, then the engine's own; intent→submit (both) is no longer shown."""


def summary(samples: tuple[float, ...]) -> str:
    """`p50 3.1 p95 8 p99 12 ms n=40`, or `no samples`."""
    if not samples:
        return "no samples yet"
    p50, p95, p99 = (fmt.percentile(samples, p) for p in (50, 95, 99))
    return f"p50 {fmt.ms(p50)} · p95 {fmt.ms(p95)} · p99 {fmt.ms(p99)} ms · n={len(samples)}"


def histogram(samples: tuple[float, ...]) -> tuple[list[float], list[int]]:
    """Bin centres from 0 and whole counts: no negative axis, no fractional count, even for
    one or two samples."""
    top = max(samples) or 1.0
    bins = min(HIST_BINS, max(1, len(samples)))
    width = top / bins
    counts = [0] * bins
    for sample in samples:
        counts[min(bins - 1, int(max(0.0, sample) / width))] += 1
    return [width * (i + 0.5) for i in range(bins)], counts


def count_ticks(highest: int) -> list[int]:
    """At most five whole-number ticks from 0 to `highest`."""
    step = max(1, -(-highest // 4))
    return list(range(0, highest + 1, step))


PLOT_MIN_SIZE = (24, 9)
"""Below this many columns and rows a histogram is unreadable (one axis label, no bars worth
reading) and plotext's label placement at that size flickers: only the percentiles show."""


class StageHistogram(Vertical):
    """One stage: a header line with percentiles over a plotext histogram (when it fits)."""

    DEFAULT_CSS = """
    StageHistogram { width: 1fr; height: 1fr; }
    StageHistogram > .stage-title { height: 2; text-style: bold; }
    StageHistogram > .stage-summary { height: auto; color: $text-muted; }
    StageHistogram > PlotextPlot { height: 1fr; min-height: 4; }
    """

    def __init__(self, stage: str, title: str) -> None:
        super().__init__(id=f"lat-{stage.replace('_', '-')}")
        self.stage = stage
        self.title = title
        self.samples: tuple[float, ...] | None = None
        self._plot: PlotextPlot | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.title, classes="stage-title")
        yield Static(summary(()), classes="stage-summary")

    def on_resize(self) -> None:
        self._fit_plot()

    def _fit_plot(self) -> None:
        min_width, min_height = PLOT_MIN_SIZE
        fits = self.size.width >= min_width and self.size.height >= min_height
        if self._plot is not None:
            self._plot.display = fits

    def plot(self) -> PlotextPlot:
        """The histogram's plot, mounted when first drawn (the panel is on screen)."""
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot()
            self._fit_plot()
            self.mount(self._plot)
        return self._plot

    def show(self, samples: tuple[float, ...]) -> None:
        if samples == self.samples:
            return
        self.samples = samples
        self.query_one(".stage-summary", Static).update(summary(samples))
        plot = self.plot()
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("ms")
        if samples:
            centers, counts = histogram(samples)
            plt.bar(centers, counts)
            top = max(samples) * 1.05 or 1.0
            plt.xlim(0, top)
            plt.ylim(0, max(counts))
            marks = [0.0, max(samples) / 2, max(samples)]  # fixed: plotext's own pick drifts
            plt.xticks(marks, [fmt.ms(m) for m in marks])
            ticks = count_ticks(max(counts))
            plt.yticks([float(t) for t in ticks], [str(t) for t in ticks])
        plot.refresh()


class LatencyPanel(Horizontal):
    """Four histograms side by side (stacked when the panel is narrow, via CSS)."""

    DEFAULT_CSS = """
    LatencyPanel { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        for stage, title in STAGES:
            yield StageHistogram(stage, title)

    def show(self, latency: LatencyView) -> None:
        for histogram in self.query(StageHistogram):
            histogram.show(getattr(latency, histogram.stage))
