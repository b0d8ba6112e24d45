"""The incremental DataTable every console list builds on: cells rendered once, rows patched."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, count
from typing import Any, Self

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text, TextType
from textual import events
from textual._segment_tools import line_crop
from textual._types import SegmentLines
from textual.cache import LRUCache
from textual.color import Color
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from console.tui.widgets.table_drawing import (
    LAYOUTS_KEPT,
    LINES_KEPT,
    ROWS_KEPT,
    STYLED_KEPT,
    Cell,
    CellLines,
    CellPlace,
    Drawing,
    RowRef,
    RowStrips,
    as_row_key,
    discard_where,
    layout_key,
    mark,
    value_width,
)


class RowPatchedTable(DataTable[Cell]):
    """A DataTable whose rows are drawn from cells rendered once each.

    DataTable caches a cell's render under its row's index, the table's update count and the
    row's zebra stripe: a row added or moved re-rendered every cell of the table (a new order
    on top of 30 rows cost about 100 ms). Here a cell is laid out once per value, width and
    height (`CellLines`, by row and column key), and drawing it in a row only puts the row's
    style, the cursor and the click-to-row meta on those segments, exactly as DataTable's
    `Styled` would. A drawn line is kept by its row (key and content version), not by its
    place: the meta names the row by key, so rows moved down by a new one on top are drawn
    from the cache. `patch_cell` changes one cell and repaints only its row
    (`DataTable.update_cell` invalidates the cached lines of every row)."""

    _styles_generation = 0
    """Counts the table's style changes (CSS, cursor settings): styled cells of an older
    generation are not drawn."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0))
    """Textual lays the whole screen out again whenever a table's rows change its virtual
    size (Widget's is a layout reactive). A table whose box does not depend on its rows needs
    only its scrollbars updated and itself repainted (`watch_virtual_size`)."""

    def watch_virtual_size(self, _before: Size, after: Size) -> None:
        if not self._box_is_fixed():  # the table grows with its rows: the screen lays out
            self.refresh(layout=True)
            return
        self._update_scrollbars(after)
        self.refresh()

    def _update_scrollbars(self, virtual_size: Size) -> None:
        """Show or hide the scrollbars (one that appears or goes lays the screen out), give
        them the new sizes and keep the scroll offsets in range. A bar repaints when one of
        its sizes changed (they are reactives); Widget's own update repaints both bars every
        time, and an order added on top repainted the horizontal bar's unchanged line (1 ms,
        a fifteenth of the approve's frame)."""
        self._refresh_scrollbars()
        width, height = self.container_size
        if self.show_vertical_scrollbar and self.styles.scrollbar_size_vertical:
            bar = self.vertical_scrollbar
            bar.window_virtual_size = virtual_size.height
            bar.window_size = height - self.scrollbar_size_horizontal
        if self.show_horizontal_scrollbar and self.styles.scrollbar_size_horizontal:
            bar = self.horizontal_scrollbar
            bar.window_virtual_size = virtual_size.width
            bar.window_size = width - self.scrollbar_size_vertical
        self.scroll_x = self.validate_scroll_x(self.scroll_x)
        self.scroll_y = self.validate_scroll_y(self.scroll_y)

    def _box_is_fixed(self) -> bool:
        """The table's size comes from its container, not its rows (e.g. `height: 1fr`)."""
        height, width = self.styles.height, self.styles.width
        return height is not None and not height.is_auto and (width is None or not width.is_auto)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._strips: LRUCache[RowRef, RowStrips] = LRUCache(ROWS_KEPT)
        """The lines drawn (`_render_line`) for each row: kept by the row, not by its place on
        screen, so a row added on top leaves the other rows' lines valid (DataTable's cache is
        by line number and the table's update count: every line was drawn again)."""
        self._row_versions: dict[RowKey, int] = {}
        """Each row's content version, new whenever one of its cells changes."""
        self._versions = count(1)
        self._drawing: Drawing | None = None
        """While the table draws a frame: its settings for that frame."""
        self._place_styles: LRUCache[CellPlace, tuple[Style, Style]] = LRUCache(4000)
        """A place's (pre, post) cell styles: a row inserted above moves every row below to
        a new place, where the cells are styled again; the place's styles were made before."""
        super().__init__(*args, **kwargs)
        self._cell_lines: LRUCache[tuple[RowKey, ColumnKey], CellLines] = LRUCache(10000)
        self._layouts: LRUCache[tuple[object, ...], list[list[Segment]]] = LRUCache(LAYOUTS_KEPT)
        """A `Text`'s lines at a width, height and padding, by what the text shows (the lines
        are read, never changed: styling a cell copies them)."""

    @property
    def rich_style(self) -> Style:
        """While drawing, the style worked out once for the frame: DataTable asks for it on
        every line, and it is computed over all the widget's ancestors each time."""
        if self._drawing is not None:
            return self._drawing.style
        return super().rich_style

    def render_lines(self, crop: Region) -> list[Strip]:
        self._drawing = self._settings()
        try:
            return super().render_lines(crop)
        finally:
            self._drawing = None

    def _settings(self) -> Drawing:
        """This frame's `Drawing` (worked out now outside a frame)."""
        if self._drawing is not None:
            return self._drawing
        return Drawing(
            self.rich_style,
            self.cell_padding,
            self._show_hover_cursor,
            self.show_cursor,
            self.cursor_type,
            self.fixed_rows,
            self.fixed_columns,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
            self.size.width,
            self.scroll_offset.x,
            tuple(column.get_render_width(self) for column in self.ordered_columns),
            tuple((column.label.plain, column.label.style) for column in self.ordered_columns),
            self.scroll_offset.y,
            self._fixed_height(),
        )

    def _fixed_height(self) -> int:
        """The lines that do not scroll: the header's and the fixed rows'."""
        height = self.get_row_height(self._header_row_key) if self.show_header else 0
        for index in range(self.fixed_rows):
            key = self._row_locations.get_key(index)
            if key is not None:
                height += self.get_row_height(key)
        return height

    def render_line(self, y: int) -> Strip:
        """DataTable's, with the frame's size, scroll offset and fixed lines read once per
        frame (DataTable reads them, reactives, for every line)."""
        drawing = self._drawing
        if drawing is None:
            return super().render_line(y)
        if y >= drawing.fixed_height:
            y += drawing.scroll_y
        x = drawing.scroll_x
        return self._render_line(y, x, x + drawing.width, drawing.style)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable's, cached by the row drawn on the line rather than the line's place."""
        if self._drawn_by_datatable():
            return super()._render_line(y, x1, x2, base_style)
        drawing = self._settings()
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return Strip.blank(drawing.width, base_style)
        index = self._row_locations.get(row_key)
        row_index = -1 if index is None else index
        header = row_index == -1
        if header:
            content: object = (drawing.labels, self.header_height)
        else:
            version = self._row_versions.get(row_key, ("update", self._update_count, row_key))
            content = (version, self.rows[row_key].height)
        if header or row_index < drawing.fixed_rows:
            kind: object = "header" if header else "fixed"
        else:
            kind = row_index % 2 if self.zebra_stripes else None
        ref = self._row_ref(row_key, row_index)
        drawn = self._strips.get(ref)
        if drawn is None or drawn.content != content:
            drawn = RowStrips(content)
            self._strips.discard(ref)  # `set` keeps an existing value
            self._strips.set(ref, drawn)
        cache_key = (
            line_no,
            kind,
            mark(row_index, self.cursor_coordinate, drawing.cursor_type),
            mark(row_index, self.hover_coordinate, drawing.cursor_type),
            base_style,
            x1,
            x2,
            drawing,
            self._pseudo_class_state,
        )  # a style change or a column added or removed clears the drawn lines
        strip = drawn.strips.get(cache_key)
        if strip is None:
            _, scrollable = self._render_line_in_row(
                row_key, line_no, base_style, self.cursor_coordinate, self.hover_coordinate
            )
            segments = line_crop(list(chain.from_iterable(scrollable)), x1, x2, drawing.width)
            strip = Strip(segments).adjust_cell_length(drawing.width, base_style).simplify()
            if len(drawn.strips) >= LINES_KEPT:
                drawn.strips.clear()
            drawn.strips[cache_key] = strip
        return strip

    def _drawn_by_datatable(self) -> bool:
        """Fixed columns or row labels (no table here has them): DataTable draws the lines,
        from its own caches."""
        return bool(self.fixed_columns) or (self._labelled_row_exists and self.show_row_labels)

    def _row_ref(self, row_key: RowKey, row_index: int) -> RowRef:
        value = row_key.value
        return value if row_index != -1 and isinstance(value, str) else row_index

    def _index_in_meta(self, event: events.MouseEvent) -> None:
        """Cells name their row by key in their click meta (`RowRef`); DataTable's mouse
        handlers, which run after this, read a row index there."""
        meta = event.style.meta
        ref = meta.get("row")
        if isinstance(ref, str):
            index = self._row_locations.get(RowKey(ref))
            event.style = Style() if index is None else Style.from_meta({**meta, "row": index})

    async def _on_click(self, event: events.Click) -> None:
        self._index_in_meta(event)

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        self._index_in_meta(event)

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        """DataTable's, for a table without row labels or fixed columns (every table here),
        without working out the header's style for each row it draws, and with the cells
        outside the visible columns left blank (the line is cut to them: a narrow panel does
        not draw the columns it cannot show)."""
        if self._drawn_by_datatable():
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        drawing = self._settings()
        cursor_type = drawing.cursor_type
        index = self._row_locations.get(row_key)
        row_index = -1 if index is None else index
        row_style = self._get_row_style(row_index, base_style)
        highlight = self._should_highlight
        scrollable: SegmentLines = []
        table_width = 0
        shown_from, shown_to = drawing.scroll_x, drawing.scroll_x + drawing.width
        for column_index, column in enumerate(self.ordered_columns):
            width = column.get_render_width(self)
            table_width += width
            if table_width <= shown_from or table_width - width >= shown_to:
                scrollable.append([Segment(" " * width)])  # cut off the line: never seen
                continue
            cell = Coordinate(row_index, column_index)
            lines = self._render_cell(
                row_index,
                column_index,
                row_style,
                width,
                cursor=highlight(cursor_location, cell, cursor_type),
                hover=highlight(hover_location, cell, cursor_type),
            )
            scrollable.append(lines[line_no])
        remaining_space = max(0, drawing.width - table_width - self._row_label_column_width)
        extend_style = self._extend_style(row_index, row_style, cursor_location, hover_location)
        scrollable.append([Segment(" " * remaining_space, extend_style)])
        return [], scrollable

    def _extend_style(
        self,
        row_index: int,
        row_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> Style:
        """The style of the space right of the last column, as DataTable draws it."""
        drawing = self._settings()
        if drawing.cursor_type == "row":
            extend_style, _ = self._get_styles_to_render_cell(
                row_index == -1,
                False,
                False,
                self._should_highlight(
                    hover_location, Coordinate(row_index or 0, 0), drawing.cursor_type
                ),
                row_index == cursor_location.row,
                drawing.show_cursor,
                drawing.hover_shown,
                False,
                False,
            )
            extend_style = row_style + extend_style
        elif row_style.bgcolor is not None:
            faded = Color.from_rich_color(row_style.bgcolor).blend(
                self.background_colors[1], factor=0.25
            )
            extend_style = Style.from_color(color=row_style.color, bgcolor=faded.rich_color)
        else:
            extend_style = Style.from_color(row_style.color, row_style.bgcolor)
        row_key = self._row_locations.get_key(row_index)
        row = row_index if row_key is None else self._row_ref(row_key, row_index)
        return extend_style + Style.from_meta({"row": row, "column": 0, "out_of_bounds": True})

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        header = row_index == -1
        row_key = self._header_row_key if header else self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if column_index == -1 or row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if header:
            height = self.header_height
            datum: object = self.columns[column_key].label
        else:
            row = self.rows[row_key]
            if row.auto_height and not row.height:  # measuring a new row's height: once
                return super()._render_cell(
                    row_index, column_index, base_style, width, cursor, hover
                )
            height = row.height
            datum = self._data[row_key].get(column_key)
        drawing = self._settings()
        entry = self._cell_lines.get((row_key, column_key))
        if (
            entry is None
            or entry.datum is not datum
            or (entry.width, entry.height, entry.padding) != (width, height, drawing.padding)
        ):
            lines = self._lay_out_cell(row_index, column_index, width, height)
            entry = CellLines(datum, width, height, drawing.padding, lines)
            self._cell_lines.discard((row_key, column_key))  # `set` keeps an existing value
            self._cell_lines.set((row_key, column_key), entry)
        place = (
            self._row_ref(row_key, row_index),
            header,
            not header and row_index < drawing.fixed_rows,
            column_index,
            base_style,
            cursor,
            hover,
            drawing.hover_shown,
            self._pseudo_class_state,
            self._styles_generation,
        )
        styled = entry.styled.get(place)
        if styled is None:
            if len(entry.styled) >= STYLED_KEPT:
                entry.styled.clear()
            styled = self._style_cell(entry.lines, place)
            entry.styled[place] = styled
        return styled

    def _style_cell(self, lines: list[list[Segment]], place: CellPlace) -> list[list[Segment]]:
        """`lines` under the row's style, the cursor's and the click-to-row meta, as
        DataTable's `Styled` puts them on a cell it renders."""
        styles = self._place_styles.get(place)
        if styles is None:
            styles = self._styles_at(place)
            self._place_styles.set(place, styles)
        pre_style, post_style = styles
        return [list(Segment.apply_style(line, pre_style, post_style)) for line in lines]

    def _styles_at(self, place: CellPlace) -> tuple[Style, Style]:
        """The (pre, post) styles of a cell drawn at `place`."""
        row, header, fixed_row, column_index, base_style, cursor, hover = place[:7]
        drawing = self._settings()
        fixed = fixed_row or (not header and column_index < drawing.fixed_columns)
        component_style, post_style = self._get_styles_to_render_cell(
            header,
            False,
            fixed,
            hover,
            cursor,
            drawing.show_cursor,
            drawing.hover_shown,
            drawing.css_foreground,
            drawing.css_background,
        )
        meta = Style.from_meta({"row": row, "column": column_index})
        return base_style + meta + component_style, post_style

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        """DataTable's row style, from the table's cached component styles: DataTable works
        it out over the widget's ancestors for every row it draws (a third of a frame)."""
        if row_index == -1:
            return self.get_component_rich_style("datatable--header")
        if row_index < self.fixed_rows:
            return self.get_component_rich_style("datatable--fixed")
        if self.zebra_stripes:
            odd = row_index % 2
            return self.get_component_rich_style(
                "datatable--odd-row" if odd else "datatable--even-row"
            )
        return base_style

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._strips.clear()
        self._place_styles.clear()
        self._styles_generation += 1  # the laid-out cells stay: their values did not change

    def notify_style_update(self) -> None:
        self._styles_generation += 1
        self._strips.clear()
        self._place_styles.clear()
        super().notify_style_update()

    def add_row(
        self,
        *cells: Cell,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        row_key = super().add_row(*cells, height=height, key=key, label=label)
        self._row_versions[row_key] = next(self._versions)
        return row_key

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Cell,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, value, update_width=update_width)
        self._row_versions[as_row_key(row_key)] = next(self._versions)

    def remove_row(self, row_key: RowKey | str) -> None:
        key = as_row_key(row_key)
        index = self._row_locations.get(key)
        super().remove_row(key)
        self._row_versions.pop(key, None)
        if index is not None:
            self._strips.discard(self._row_ref(key, index))

    def add_column(
        self,
        label: TextType,
        *,
        width: int | None = None,
        key: str | None = None,
        default: Cell | None = None,
    ) -> ColumnKey:
        self._strips.clear()  # every row gains a cell
        return super().add_column(label, width=width, key=key, default=default)

    def remove_column(self, column_key: ColumnKey | str) -> None:
        self._strips.clear()
        super().remove_column(column_key)

    def clear(self, columns: bool = False) -> Self:
        self._row_versions.clear()
        return super().clear(columns)  # its `_clear_caches` drops the drawn lines

    def _lay_out_cell(
        self, row_index: int, column_index: int, width: int, height: int
    ) -> list[list[Segment]]:
        """The cell's lines as DataTable renders them, before any style of the table's; a
        text laid out before at that size is not laid out again."""
        _, cells = self._get_row_renderables(row_index)
        renderable = cells[column_index]
        key: tuple[object, ...] | None = None
        if isinstance(renderable, Text):
            key = layout_key(renderable, width, height, self.cell_padding)
            known = self._layouts.get(key)
            if known is not None:
                return known
        options = self.app.console_options.update_dimensions(width, height)
        if height == 1:
            options = options.update(no_wrap=True)
        lines = self.app.console.render_lines(Padding(renderable, (0, self.cell_padding)), options)
        if key is not None:
            self._layouts.set(key, lines)
        return lines

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable's, except that rows of one line, unlabelled, with `Text` cells (every row
        here) are measured by each cell's widest line (`value_width`, the width Rich's measure
        gives a `Text`), without asking Rich to measure each cell: that built the console's
        options for every cell, 0.9 ms for an approved order and its legs, on the path from
        the approve to its row on screen. Other rows are measured by DataTable."""
        keys = list(new_rows)
        located = [key for key in keys if self._row_locations.get(key) is not None]
        if not all(self._measured_here(key) for key in located):
            super()._update_dimensions(keys)
            return
        columns = self.ordered_columns
        for key in located:
            cells = self._data[key]
            for column in columns:
                value = cells.get(column.key)
                if value is not None:
                    column.content_width = max(column.content_width, value_width(value))
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            width + self._row_label_column_width, self._total_row_height + header
        )

    def _measured_here(self, key: RowKey) -> bool:
        row = self.rows.get(key)
        return (
            row is not None
            and row.label is None
            and not row.auto_height
            and all(isinstance(value, Text) for value in self._data[key].values())
        )

    def patch_cell(self, row_key: str, column_key: str, value: Cell) -> None:
        """`update_cell(row_key, column_key, value)`, repainting only the row. A value wider
        than its column (one that fits its content) widens it through `update_cell`, as does
        any change while the table's dimensions are pending: a value is never cut to a width
        measured before it (a leg's WORKING that became CANCELLED read CANCELLE)."""
        row, column = RowKey(row_key), ColumnKey(column_key)
        index = self._row_locations.get(row)
        shown = self.columns.get(column)
        if shown is not None and shown.auto_width and value_width(value) > shown.content_width:
            self.update_cell(row_key, column_key, value, update_width=True)
            return
        if (
            index is None
            or column not in self._column_locations
            or self._require_update_dimensions
            or self._updated_cells
            or self._drawn_by_datatable()
        ):
            self.update_cell(row_key, column_key, value)
            return
        self._data[row][column] = value
        discard_where(self._row_renderable_cache, lambda key: key[1] == index)
        self._cell_lines.discard((row, column))
        self._row_versions[row] = next(self._versions)
        self._refresh_region(self._get_row_region(index))
