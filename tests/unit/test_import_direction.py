"""The import direction of ARCHITECTURE.md: contracts <- engine <- broker / console."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return {name.split(".")[0] for name in out.stdout.split()}


def test_engine_and_contracts_load_no_ui_broker_or_ib_async() -> None:
    for module in ("contracts", "engine", "engine.engine", "engine.audit", "contracts.config"):
        loaded = loaded_after_import(module)
        assert not loaded & {"textual", "ib_async", "broker", "console"}, (module, loaded)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_broker_ibkr_imports_ib_async() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for top in ("contracts", "engine", "broker", "console")
        for p in (ROOT / top).rglob("*.py")
        if "ib_async" in imports_of(p) and not p.is_relative_to(ROOT / "broker" / "ibkr")
    ]
    assert offenders == []


def test_layers_only_import_downward() -> None:
    allowed = {
        "contracts": {"contracts"},
        "engine": {"contracts", "engine"},
        "broker": {"contracts", "engine", "broker"},
        "console": {"contracts", "engine", "console", "broker"},
    }
    project = {"contracts", "engine", "broker", "console"}
    for top, ok in allowed.items():
        for path in (ROOT / top).rglob("*.py"):
            bad = (imports_of(path) & project) - ok
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


UI_MODULES = (
    "app.py",
    "state.py",
    "messages.py",
    "keymap.py",
    "format.py",
    "engine_api.py",
    "text.py",
)


def test_the_console_ui_never_reaches_into_brokers() -> None:
    """Screens and widgets see the engine only; brokers are wired by the composition root."""
    console = ROOT / "console" / "tui"
    ui = [console / name for name in UI_MODULES if (console / name).exists()]
    ui += list((console / "screens").rglob("*.py")) + list((console / "widgets").rglob("*.py"))
    assert ui, "no console UI modules found"
    for path in ui:
        assert "broker" not in imports_of(path), path.relative_to(ROOT)
