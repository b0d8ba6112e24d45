"""`deskgate fill-report` end to end: trade on the gateway, then read the store from another
process (read-only, while the engine still runs) as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from console.fill_report import COLUMNS
from contracts.enums import LifecycleState
from contracts.intent import ExecutionStyle
from tests.integration.ops_support import gateway_desk, styled_intent
from tests.support import REPO, approve_pending, eventually, make_intent


def fill_report(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "fill-report", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


async def test_fill_report_reads_gateway_fills_as_csv_and_json(tmp_path: Path) -> None:
    async with gateway_desk(tmp_path) as desk:
        _, ask = desk.quote()
        limit = ask + Decimal("0.03")
        intent = make_intent(desk.engine.clock, quantity=7, limit=str(limit), stop_loss=None)
        assert (await desk.engine.propose(intent)).accepted
        assert (await approve_pending(desk.engine, intent.intent_id)).ok
        rec = desk.engine.book.records[intent.intent_id]
        await eventually(lambda: rec.state is LifecycleState.FILLED)
        bid, _ = desk.quote()
        patient = styled_intent(
            desk,
            quantity=3,
            limit=bid - Decimal("0.02"),
            style=ExecutionStyle(
                kind="limit_patience", reprice_every_s=1.0, reprice_ticks=5, worst_price=ask
            ),
        )
        assert (await desk.engine.propose(patient)).accepted
        assert (await approve_pending(desk.engine, patient.intent_id)).ok
        worked = desk.engine.book.records[patient.intent_id]
        await eventually(lambda: desk.quote() and worked.state is LifecycleState.FILLED, 30)
        desk.engine.recorder.flush()
        await eventually(lambda: len(desk.engine.snapshot().fills) == 2)  # the console's view
        view = desk.engine.snapshot()
        assert {f.intent_id for f in view.fills} == {intent.intent_id, patient.intent_id}
        assert {(d.symbol, d.style) for d in view.slippage} == {
            ("AAPL", "immediate"),
            ("AAPL", "limit_patience"),
        }

        as_csv = fill_report(tmp_path, "--csv")
        assert as_csv.returncode == 0, as_csv.stderr
        rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
        assert tuple(rows[0]) == COLUMNS
        by_intent = {r["intent_id"]: r for r in rows}
        first = by_intent[intent.intent_id]
        assert first["style"] == "immediate" and Decimal(first["quantity"]) == 7
        assert Decimal(first["decision_price"]) == limit
        assert Decimal(first["touch_at_send"]) == ask
        slip = (Decimal(first["price"]) - limit) / Decimal("0.01")
        assert Decimal(first["slippage_ticks"]) == slip.quantize(Decimal("0.01"))
        assert first["submit_to_ack_ms"] and first["ack_to_fill_ms"]
        assert by_intent[patient.intent_id]["style"] == "limit_patience"

        as_json = fill_report(tmp_path, "--json", "--since", "1h")
        assert as_json.returncode == 0, as_json.stderr
        report = json.loads(as_json.stdout)
        assert {f["intent_id"] for f in report["fills"]} == set(by_intent)
        checks = {(s["symbol"], s["style"]): s for s in report["slippage"]}
        assert checks[("AAPL", "immediate")]["fills"] == "1"
        assert checks[("AAPL", "limit_patience")]["drifted"] == "False"

        future = fill_report(tmp_path, "--json", "--since", "2999-01-01T00:00:00")
        assert json.loads(future.stdout)["fills"] == []
        bad = fill_report(tmp_path, "--since", "yesterday-ish")
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--since" in bad.stderr
