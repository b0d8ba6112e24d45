"""The chaos suite as tests: each vector runs the real engine + IbkrBroker against the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.drills.chaos_suite import SEED_VECTORS, VECTORS, report_markdown, run_vector


@pytest.mark.parametrize("name", list(VECTORS))
async def test_vector(name: str, tmp_path: Path) -> None:
    result = await run_vector(name, tmp_path)
    assert result.passed, f"{result.title}: {result.line}"
    assert result.figure and result.figure != "-"


async def test_a_failing_vector_is_reported_as_fail_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(rig: object) -> tuple[str, str]:
        raise AssertionError("the engine sent an order it should not have")

    monkeypatch.setitem(VECTORS, "broken", ("a broken vector", broken))
    result = await run_vector("broken", tmp_path)
    assert not result.passed and "should not have" in result.line
    text = report_markdown([result])
    assert "| 1 | broken | a broken vector | FAIL |" in text and "0/1 passed" in text


SEED_004 = [
    "CV_S32_TOKEN_REPLAY",
    "CV_S32_TOKEN_EXPIRED",
    "CV_S32_TOKEN_WRONG_INTENT",
    "CV_S32_ORDER_WITHOUT_TOKEN",
    "CV_S32_TOKEN_RACE",
    "CV_S32_IBKR_TIMEOUT",
    "CV_S32_IBKR_REJECTION",
    "CV_S32_FILL_PARTIAL",
    "CV_S32_PARTIAL_DRIFT",
    "CV_S32_RECONCILIATION_DRIFT",
    "CV_S32_ORDER_RACE",
    "CV_S32_LIFECYCLE_INVALID",
    "CV_S32_PROMOTION_BYPASS",
    "CV_S32_PROMOTION_PARTIAL",
    "CV_S32_PROMOTION_VETO",
    "CV_S32_KILL_ENTRY_ATTEMPT",
    "CV_S32_STALE_APPROVAL",
]


def test_the_suite_holds_all_17_seed_vectors_and_the_extras() -> None:
    assert list(SEED_VECTORS) == SEED_004
    assert len(VECTORS) > 17 and "failed_modify" in VECTORS and "kill_with_queue" in VECTORS


def test_the_report_names_every_seed_vector_with_its_result_and_figure() -> None:
    from console.drills.chaos import VectorResult

    results = [
        VectorResult(name, title, n != 3, "line", f"figure-{n}", 0.1)
        for n, (name, (title, _)) in enumerate(VECTORS.items())
    ]
    text = report_markdown(results)
    for n, name in enumerate(SEED_004):
        verdict = "FAIL" if n == 3 else "PASS"
        assert f"| {name} | {SEED_VECTORS[name][0]} | {verdict} | line | figure-{n} |" in text
    assert f"{len(VECTORS) - 1}/{len(VECTORS)} passed" in text and "16/17 of seed 004" in text
