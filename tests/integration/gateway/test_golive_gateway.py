"""Go-live commands end to end on the embedded gateway: probe (gate 6) and a short paper session."""

from __future__ import annotations

import json
from pathlib import Path

from console.cli.probe import run_probe
from console.drills.paper import PaperPlan, run_paper
from contracts.config import Config
from engine.gates import GateEvidence, Verdict, gate_account
from engine.golive_evidence import EvidencePaths, gate_results, read_account


def config(tmp_path: Path) -> Config:
    return Config.model_validate({"data_dir": str(tmp_path / "data")})


async def test_probe_on_the_gateway_passes_gate_6(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    record = await run_probe(cfg)
    assert record["connected"], record
    assert record["account_id"] == "DU1234567" and record["account_type"] == "PAPER"
    assert float(record["buying_power"]) > 0 and record["nav"]
    assert record["permissions"] == {"stocks": True, "options": True, "futures": False}
    assert record["limits"]["risk"]["max_trades_per_day"] == 2
    path = tmp_path / "ACCOUNT_CONFIG.json"
    path.write_text(json.dumps(record))
    gate = gate_account(GateEvidence(account=read_account(path, cfg)), cfg.golive)
    assert gate.verdict is Verdict.PASS, gate.detail
    futures = cfg.model_copy(
        update={"golive": cfg.golive.model_copy(update={"required_permissions": ["futures"]})}
    )
    gate = gate_account(GateEvidence(account=read_account(path, futures)), futures.golive)
    assert gate.verdict is Verdict.FAIL and "permission futures" in gate.detail


async def test_probe_that_cannot_connect_is_recorded(tmp_path: Path) -> None:
    cfg = Config.model_validate({"broker": {"kind": "gateway", "port": 1, "connect_timeout_s": 1}})
    record = await run_probe(cfg)
    assert record["connected"] is False and record["error"]


async def test_short_paper_session_writes_log_metrics_and_a_verified_rollback(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    plan = PaperPlan(duration_s=2.0, trades_min=4, trades_max=4, symbols=("AAPL", "MSFT"))
    lines: list[str] = []
    out = tmp_path / "out"
    result = await run_paper(cfg, plan, out, progress=lines.append)
    assert lines and "orders" in lines[-1]
    log = json.loads(result.log_path.read_text())
    assert log["risk_overrides"]["max_trades_per_day"] == "14"
    ours = [t for t in log["trades"] if t["source"] == "paper"]
    assert len(ours) == 4 and {t["type"] for t in ours} <= {"MKT", "LMT"}
    for t in ours:
        assert t["status"] == "FILLED" and t["fill_price"] and t["commission"]
        lat = t["latency_ms"]
        assert lat["total"] >= lat["intent_to_submit"] > 0
    metrics = {m.metric: m for m in result.metrics}
    assert metrics["trades"].value == "4" and metrics["fill_rate"].value == "100.00"
    assert metrics["pacing_violations"].status == "PASS"
    assert metrics["latency_sim_p50"].value != "n/a"
    assert result.rollback_ok and result.incident is not None and result.incident.exists()
    # The gates read what the session recorded.
    results = gate_results(cfg, EvidencePaths(out))
    g7, g8 = results[6], results[7]
    assert g7.verdict is not Verdict.PENDING or "Sharpe" in g7.detail
    assert ("rollback", next(v for k, v in g8.numbers if k == "rollback")) != ("rollback", "n/a")
    assert "kill switch verified" not in " ".join(g8.missing)
    assert "rollback verified" not in " ".join(g8.missing)
