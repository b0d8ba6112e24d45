"""What drill verbs show people: library log lines to a file, rich progress bars and tables."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


def log_to_file(path: Path) -> Path:
    """Send every log record (ib_async's "Error 201 …", "Canceled order …") to `path`, 0600.

    Python prints WARNING records to standard error when no handler is configured; a handler on
    the root logger keeps them in the file and off the trader's terminal.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    logging.basicConfig(
        filename=str(path),
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    return path


def stderr_console() -> Console:
    return Console(file=sys.stderr)


def progress_bar(console: Console | None = None) -> Progress:
    """A rich progress bar on standard error (plain lines when it is not a terminal)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=console or stderr_console(),
    )


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console().print(table)
