"""The eight go-live gates as pure functions of evidence, and the decision built from them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from contracts.config import GoLiveConfig
from engine.gates import (
    AccountEvidence,
    ArchitectureEvidence,
    CoverageEvidence,
    Decision,
    FixturesEvidence,
    GateEvidence,
    InterfaceEvidence,
    KillEvidence,
    PaperEvidence,
    RollbackEvidence,
    SignOff,
    StageRun,
    SuiteEvidence,
    Verdict,
    decide,
    evaluate,
    permissions_from_tags,
)
from engine.golive_report import render_markdown, render_table

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
CFG = GoLiveConfig()


def paper(**kw: object) -> PaperEvidence:
    base = PaperEvidence(
        source="m.csv", duration_s=21600, trades=120, fill_rate_pct=99.2, latency_p50_ms=20,
        latency_p95_ms=40, latency_p99_ms=60, pacing_violations=0, disconnects=0,
        sharpe_paper=0.9, sharpe_backtest=1.2, latency_delta_pct=20.0,
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def complete() -> GateEvidence:
    stages = {s: StageRun(10) for s in ("unit", "integration", "console", "chaos", "crash")}
    return GateEvidence(
        coverage=CoverageEvidence(86.0, "coverage.json"),
        fixtures=FixturesEvidence(("capture", "snapshots"), ()),
        architecture=ArchitectureEvidence(4, ()),
        interface=InterfaceEvidence(("submit", "cancel"), (), (100, 201), ()),
        tests=SuiteEvidence("junit.xml", stages, dict.fromkeys(stages, 2)),
        account=AccountEvidence(
            connected=True,
            source="a.json",
            account_id="DU1",
            account_type="PAPER",
            expected_type="PAPER",
            nav=Decimal(100000),
            cash=Decimal(100000),
            buying_power=Decimal(400000),
            cushion=Decimal(1),
            permissions={"stocks": True, "options": True, "futures": False},
        ),
        paper=paper(),
        signoffs=tuple(SignOff(r, "A. N.", NOW) for r in CFG.signoff_roles),
        rollback=RollbackEvidence(True, 4.2, NOW),
        kill=KillEvidence(True, NOW),
    )


def verdicts(ev: GateEvidence) -> dict[int, Verdict]:
    return {g.number: g.verdict for g in evaluate(ev, CFG)}


def test_complete_evidence_passes_every_gate_and_approves() -> None:
    results = evaluate(complete(), CFG)
    assert [g.number for g in results] == list(range(1, 9))
    assert all(g.verdict is Verdict.PASS for g in results), render_table(results)
    decision = decide(results)
    assert decision.decision is Decision.GO_LIVE_APPROVED
    assert decision.open_requirements == () and decision.failing == ()


def test_no_evidence_is_pending_never_pass_and_rejected() -> None:
    results = evaluate(GateEvidence(), CFG)
    assert all(g.verdict is Verdict.PENDING for g in results)
    decision = decide(results)
    assert decision.decision is Decision.REJECTED  # seed 001: insufficient gates passed
    assert decision.reason == "insufficient gates passed (0/8)" and decision.failing == ()
    text = " | ".join(decision.open_requirements)
    for needed in ("coverage report", "account probe", "paper session", "sign-off: cto",
                   "rollback verified", "kill switch verified"):  # fmt: skip
        assert needed in text


def test_coverage_below_the_bar_fails_gate_1_and_rejects() -> None:
    ev = replace(complete(), coverage=CoverageEvidence(79.9, "c.json"))
    results = evaluate(ev, CFG)
    assert results[0].verdict is Verdict.FAIL and "79.9%" in results[0].detail
    assert results[7].verdict is Verdict.FAIL
    decision = decide(results)
    assert decision.decision is Decision.REJECTED
    assert (
        decision.failing[0].number == 1 and "deskgate gates --measure" in decision.failing[0].action
    )


def test_missing_fixture_and_import_violation_fail() -> None:
    ev = replace(
        complete(),
        fixtures=FixturesEvidence(("capture", "snapshots"), ("snapshots",)),
        architecture=ArchitectureEvidence(4, ("only broker.ibkr imports ib_async",)),
    )
    v = verdicts(ev)
    assert v[1] is Verdict.FAIL and v[2] is Verdict.FAIL
    gate2 = evaluate(ev, CFG)[1]
    assert "import contract broken: only broker.ibkr imports ib_async" in gate2.detail


def test_an_unmapped_error_code_fails_gate_3() -> None:
    ev = replace(complete(), interface=InterfaceEvidence(("submit",), (), (100, 999), (999,)))
    g = evaluate(ev, CFG)[2]
    assert g.verdict is Verdict.FAIL and "999" in g.detail


def test_unit_failures_fail_gate_4_and_missing_stage_tests_fail_gate_5() -> None:
    t = complete().tests
    assert t is not None
    stages = {**t.stages, "unit": StageRun(10, failures=1), "chaos": StageRun(3, errors=1)}
    files = {**t.stage_files, "crash": 0}
    v = verdicts(replace(complete(), tests=SuiteEvidence("j", stages, files)))
    assert v[4] is Verdict.FAIL and v[5] is Verdict.FAIL
    g5 = evaluate(replace(complete(), tests=SuiteEvidence("j", stages, files)), CFG)[4]
    assert "no crash tests" in g5.detail and "1 chaos tests failed" in g5.detail


def test_account_gate_names_each_mismatch() -> None:
    base = complete().account
    assert base is not None
    cases = {
        "buying power": replace(base, buying_power=Decimal(0)),
        "account type LIVE != config PAPER": replace(base, account_type="LIVE"),
        "permission options": replace(base, permissions={"stocks": True, "options": False}),
        "probe could not connect": AccountEvidence(False, "a.json", error="refused"),
    }
    cfg = GoLiveConfig(required_permissions=["stocks", "options"])
    for needle, account in cases.items():
        g = evaluate(replace(complete(), account=account), cfg)[5]
        assert g.verdict is Verdict.FAIL, needle
        assert needle in g.detail, (needle, g.detail)
    unknown = replace(base, permissions={"stocks": None})
    g = evaluate(replace(complete(), account=unknown), CFG)[5]
    assert g.verdict is Verdict.PENDING and "not revealed" in g.detail


def test_paper_gate_thresholds() -> None:
    fails = {
        "latency delta": paper(latency_delta_pct=50.0),
        "pacing": paper(pacing_violations=1),
        "fill rate": paper(fill_rate_pct=98.0),
        "paper Sharpe": paper(sharpe_paper=0.59),
        "backtest Sharpe": paper(sharpe_backtest=-0.2, sharpe_paper=0.1),
    }
    for needle, p in fails.items():
        g = evaluate(replace(complete(), paper=p), CFG)[6]
        assert g.verdict is Verdict.FAIL and needle in g.detail, (needle, g.detail)
    ok = evaluate(replace(complete(), paper=paper(sharpe_paper=0.6, latency_delta_pct=49.9)), CFG)
    assert ok[6].verdict is Verdict.PASS
    pending = evaluate(replace(complete(), paper=paper(latency_delta_pct=None)), CFG)[6]
    assert pending.verdict is Verdict.PENDING and "latency baseline" in pending.detail


def test_gate_8_needs_signoffs_a_fast_verified_rollback_and_a_confirmed_kill() -> None:
    two = complete().signoffs[:2]
    g = evaluate(replace(complete(), signoffs=two), CFG)[7]
    assert g.verdict is Verdict.PENDING and "lead_trader" in g.detail
    slow = RollbackEvidence(True, 31.0, NOW)
    assert evaluate(replace(complete(), rollback=slow), CFG)[7].verdict is Verdict.FAIL
    bad = RollbackEvidence(False, 3.0, NOW, ("not flat: AAPL 10",))
    g = evaluate(replace(complete(), rollback=bad), CFG)[7]
    assert g.verdict is Verdict.FAIL and "AAPL 10" in g.detail
    g = evaluate(replace(complete(), kill=KillEvidence(False, NOW)), CFG)[7]
    assert g.verdict is Verdict.FAIL


def test_decision_markdown_lists_failing_gate_action_and_numbers() -> None:
    ev = replace(complete(), paper=paper(pacing_violations=3), signoffs=())
    results = evaluate(ev, CFG)
    decision = decide(results)
    assert decision.decision is Decision.REJECTED
    md = render_markdown(results, decision, NOW)
    assert "**Decision: REJECTED**" in md
    assert "Gate 7 (paper performance): 3 pacing violations" in md
    assert "Action: find the cause" in md
    assert "sign-off: risk_officer" in md
    assert "fill rate 99.2%" in md


def test_permissions_from_ib_tags() -> None:
    assert permissions_from_tags({}) == {"stocks": None, "options": None, "futures": None}
    assert permissions_from_tags({"TradingType-S": "STKNOPT"}) == {
        "stocks": True, "options": True, "futures": False,
    }  # fmt: skip
    tags = {"TradingType-S": "STKMRGN", "SegmentTitle-C": "US Commodities"}
    assert permissions_from_tags(tags) == {"stocks": True, "options": False, "futures": True}


def test_most_gates_passing_with_only_pending_gaps_is_conditional() -> None:
    ev = replace(complete(), signoffs=())
    decision = decide(evaluate(ev, CFG))
    assert decision.decision is Decision.CONDITIONAL and decision.reason == "7/8 gates passed"
    few = replace(ev, coverage=None, tests=None, account=None, paper=None, architecture=None)
    assert decide(evaluate(few, CFG)).decision is Decision.REJECTED


def test_gate_7_needs_p95_under_200_ms_and_no_disconnects() -> None:
    slow = evaluate(replace(complete(), paper=paper(latency_p95_ms=200.0)), CFG)[6]
    assert slow.verdict is Verdict.FAIL and "latency p95 200.0 ms >= 200 ms" in slow.detail
    dropped = evaluate(replace(complete(), paper=paper(disconnects=1)), CFG)[6]
    assert dropped.verdict is Verdict.FAIL and "1 disconnects (max 0)" in dropped.detail
    unknown = evaluate(replace(complete(), paper=paper(latency_p95_ms=None)), CFG)[6]
    assert unknown.verdict is Verdict.PENDING and "latency p95" in unknown.detail
    ok = evaluate(replace(complete(), paper=paper(latency_p95_ms=199.9)), CFG)[6]
    assert ok.verdict is Verdict.PASS and ("disconnects", "0") in ok.numbers


def signed(
    version: str, verdict: str = "APPROVE", roles: tuple[str, ...] = ()
) -> tuple[SignOff, ...]:
    return tuple(SignOff(r, f"N {r}", NOW, verdict, version) for r in roles or CFG.signoff_roles)


def test_a_signoff_counts_only_for_the_evidence_version_it_approved() -> None:
    current = replace(complete(), evidence_hash="v2", signoffs=signed("v2"))
    assert evaluate(current, CFG)[7].verdict is Verdict.PASS
    old = replace(current, signoffs=signed("v1"))
    g8 = evaluate(old, CFG)[7]
    assert g8.verdict is Verdict.PENDING
    assert "sign-off: cto (signed older evidence, sign again" in g8.detail
    assert decide(evaluate(old, CFG)).decision is not Decision.GO_LIVE_APPROVED


def test_a_reject_signoff_fails_gate_8() -> None:
    mixed = signed("v2", roles=("risk_officer", "lead_trader")) + signed("v2", "REJECT", ("cto",))
    g8 = evaluate(replace(complete(), evidence_hash="v2", signoffs=mixed), CFG)[7]
    assert g8.verdict is Verdict.FAIL and "sign-off: cto N cto voted REJECT" in g8.detail


def test_decision_markdown_has_a_signatures_block_per_signer() -> None:
    signoffs = signed("v2", roles=("risk_officer",)) + signed("v1", roles=("cto",))
    ev = replace(complete(), evidence_hash="v2", signoffs=signoffs)
    results = evaluate(ev, CFG)
    md = render_markdown(results, decide(results), NOW, ev, CFG)
    block = md[md.index("## Signatures") :]
    assert "Evidence version `v2`" in block
    assert "| role | name | date | verdict | evidence | counts |" in block
    assert (
        "| risk_officer | N risk_officer | 2026-03-02 14:00 UTC | APPROVE | current | yes |"
        in block
    )
    assert "| cto | N cto | 2026-03-02 14:00 UTC | APPROVE | older `v1` | no |" in block
    assert "| lead_trader | __________ | __________ | PENDING | - | no |" in block
