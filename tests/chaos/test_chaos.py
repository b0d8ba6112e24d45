"""The chaos suite as tests: each vector runs the real engine + IbkrBroker against the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.drills.chaos import VECTORS, report_markdown, run_vector


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
    assert "| 1 | a broken vector | FAIL |" in text and "0/1 passed" in text
