"""Attack: a sign-off given for one version of the evidence must not approve a different one."""

from __future__ import annotations

from pathlib import Path

from contracts.config import Config
from engine.gates import evaluate
from engine.golive_evidence import EvidencePaths, load_evidence, record_signoff


def test_swapping_the_evidence_after_the_signoffs_voids_them(tmp_path: Path) -> None:
    """Every role approves a good paper session; then the metrics file is replaced by another
    one. The sign-offs were for the old file, so gate 8 must list them as missing again."""
    cfg = Config(data_dir=str(tmp_path / "data"))
    paths = EvidencePaths(tmp_path)
    metrics = tmp_path / "PAPER_TRADING_METRICS.csv"
    metrics.write_text("metric,value,unit,status\ntrades,120,orders,PASS\n")
    for role in cfg.golive.signoff_roles:
        record_signoff(cfg, role, f"signer {role}", verdict="APPROVE", paths=paths)
    signed = evaluate(load_evidence(cfg, paths), cfg.golive)[7]
    assert not any(m.startswith("sign-off") for m in signed.missing), signed.missing
    metrics.write_text("metric,value,unit,status\ntrades,3,orders,PASS\n")  # the swap
    after = evaluate(load_evidence(cfg, paths), cfg.golive)[7]
    stale = [m for m in after.missing if m.startswith("sign-off")]
    assert len(stale) == len(cfg.golive.signoff_roles), after.missing
    assert all("signed older evidence" in m for m in stale)


def test_a_reject_signoff_is_not_an_approval(tmp_path: Path) -> None:
    cfg = Config(data_dir=str(tmp_path / "data"))
    paths = EvidencePaths(tmp_path)
    for role in cfg.golive.signoff_roles:
        record_signoff(cfg, role, f"signer {role}", verdict="REJECT", paths=paths)
    g8 = evaluate(load_evidence(cfg, paths), cfg.golive)[7]
    assert [f for f in g8.failures if "voted REJECT" in f], g8.detail
