"""console.tui.deferred: a module named now runs only when first used."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from console.tui.deferred import on_first_use


def test_a_deferred_module_runs_at_its_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "deferred_probe.py").write_text(
        "import os\nos.environ['DEFERRED_PROBE_RUNS'] += 'x'\nVALUE = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "deferred_probe", raising=False)
    monkeypatch.setenv("DEFERRED_PROBE_RUNS", "")
    module = on_first_use("deferred_probe")
    assert os.environ["DEFERRED_PROBE_RUNS"] == ""  # named, not yet run
    assert module.VALUE == 42
    assert os.environ["DEFERRED_PROBE_RUNS"] == "x"  # ran at that first use, once
    assert module.VALUE == 42
    assert on_first_use("deferred_probe") is sys.modules["deferred_probe"]
    assert os.environ["DEFERRED_PROBE_RUNS"] == "x"


def test_a_module_already_loaded_is_returned_as_it_is() -> None:
    import json

    assert on_first_use("json") is json


def test_a_missing_module_is_refused_by_name() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_deskgate_module"):
        on_first_use("no_such_deskgate_module")
