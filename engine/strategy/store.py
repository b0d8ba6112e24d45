"""Where strategy records persist: a JSON-lines log, and reading them back from it or from beads.

Until the audit store has a bead kind for strategy records, the runtime appends each record to
`<data dir>/strategy/records.jsonl` (one JSON object a line, flushed per record). Once the lead
adds the bead kind (`STRATEGY`, payload `{"record": <record JSON>}`), `records_from_beads`
reads the same records from the audit store's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from engine.strategy.records import (
    RECORD_KINDS,
    DecisionRecord,
    LearningRecord,
    ShadowSessionRecord,
    StrategyRecord,
    TradeRecord,
    parse_record,
)

RECORDS_FILE = Path("strategy") / "records.jsonl"
BEAD_KIND = "STRATEGY"

AnyRecord = DecisionRecord | TradeRecord | LearningRecord | ShadowSessionRecord


class RecordLog:
    """An append-only JSON-lines file of strategy records (created 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: IO[str] | None = None

    def append(self, record: AnyRecord) -> None:
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(mode=0o600, exist_ok=True)
            self._out = self.path.open("a", encoding="utf-8")
        self._out.write(record.model_dump_json() + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def read_log(path: Path) -> Iterator[StrategyRecord]:
    """Records from a JSON-lines log; a damaged line is skipped (the rest still counts)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield parse_record(line)
        except ValidationError:
            continue


def records_from_beads(rows: Iterable[tuple[str, str]]) -> Iterator[StrategyRecord]:
    """Records from audit rows given as (kind, payload): `STRATEGY` beads wrapping a record, or
    rows whose kind is a record kind itself."""
    for kind, payload in rows:
        if kind == BEAD_KIND:
            try:
                inner = json.loads(payload).get("record")
                yield parse_record(json.dumps(inner))
            except (ValueError, AttributeError, ValidationError):
                continue
        elif kind in RECORD_KINDS:
            try:
                yield parse_record(payload)
            except ValidationError:
                continue
