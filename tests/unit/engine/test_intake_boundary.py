"""Intake boundary helpers: JSON depth ignores strings, the rate bucket refills at its rate."""

from __future__ import annotations

import json

import pytest

from engine.clock import ManualClock
from engine.intake import MAX_JSON_DEPTH, IntakeError, RateBucket, json_depth, load_json


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[[[[[[["}', 1),
        ('{"a": "\\"[[[[[[[[[["}', 1),
        ('["\\\\", [[]]]', 3),
        ("42", 0),
    ],
)
def test_json_depth_counts_only_structure(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_json_at_the_depth_limit_loads_and_one_more_is_refused() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json.dumps(load_json(at_limit)) == at_limit.replace("][", "], [")
    with pytest.raises(IntakeError, match=f"nested {MAX_JSON_DEPTH + 1} levels"):
        load_json("[" + at_limit + "]")


def test_the_rate_bucket_allows_its_burst_then_its_rate() -> None:
    clock = ManualClock()
    bucket = RateBucket(rate=5.0, burst=10, monotonic=clock.monotonic)
    assert sum(bucket.take() for _ in range(20)) == 10
    clock.advance(1.0)
    assert sum(bucket.take() for _ in range(20)) == 5
    clock.advance(100.0)
    assert sum(bucket.take() for _ in range(20)) == 10
