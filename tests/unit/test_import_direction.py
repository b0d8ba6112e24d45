"""The import direction, declared once as import-linter contracts in pyproject.toml, holds; each
contract bites; and importing the headless core loads no UI, broker or ib_async module."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path, *extra_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(str(p) for p in (cwd, *extra_path))}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lint_imports_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def importlinter_config() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    section: dict[str, object] = config["tool"]["importlinter"]
    return section


def write_module(root: Path, dotted: str, body: str = "") -> None:
    """`a.b.c` as a package path with __init__.py files on the way."""
    parts = dotted.split(".")
    directory = root.joinpath(*parts[:-1])
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(1, len(parts)):
        (root.joinpath(*parts[:i]) / "__init__.py").touch()
    target = directory / f"{parts[-1]}.py"
    target.write_text(body + "\n" if body else "")


def test_each_contract_breaks_on_the_import_it_forbids(tmp_path: Path) -> None:
    """A copy of the contracts over a small tree that breaks each one once."""
    section = importlinter_config()
    contracts = section["contracts"]
    assert isinstance(contracts, list) and len(contracts) == 5
    (tmp_path / "pyproject.toml").write_text(tomli_w.dumps({"tool": {"importlinter": section}}))
    for contract in contracts:
        for module in contract.get("source_modules", ()):
            write_module(tmp_path, f"{module}.ok")
    for top in ("contracts", "engine", "broker", "console"):
        write_module(tmp_path, f"{top}.ok")
    external = tmp_path / "external"
    for name in ("textual", "ib_async"):
        write_module(external, f"{name}.core")
    write_module(tmp_path, "contracts.up", "import engine.ok")
    write_module(tmp_path, "engine.ui", "import textual")
    write_module(tmp_path, "broker.gateway.wire", "import ib_async")
    write_module(tmp_path, "broker.sim.screen", "import textual")
    write_module(tmp_path, "broker.ibkr.adapter", "import ib_async")
    ui = next(c for c in contracts if c["id"] == "console-ui-sees-the-engine-only")
    write_module(tmp_path, f"{ui['source_modules'][-1]}.order", "import broker.ok")
    result = lint_imports(tmp_path, external)
    assert result.returncode == 1, result.stdout + result.stderr
    for contract in contracts:
        assert f"{contract['name']} BROKEN" in result.stdout, contract["name"]
    assert "broker.ibkr.adapter -> ib_async" not in result.stdout
    assert "Contracts: 0 kept, 5 broken." in result.stdout


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; import sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return {name.split(".")[0] for name in out.stdout.split()}


def test_engine_and_contracts_load_no_ui_broker_or_ib_async() -> None:
    for module in (
        "contracts",
        "contracts.config",
        "engine",
        "engine.engine",
        "engine.audit",
        "engine.golive_evidence",
    ):
        loaded = loaded_after(f"import {module}")
        assert not loaded & {"textual", "ib_async", "broker", "console"}, (module, loaded)


def test_the_command_line_loads_no_ui_or_ib_async_until_a_verb_needs_it() -> None:
    """Building `deskgate`'s parser (what --help and every one-line error cost) stays light."""
    loaded = loaded_after("from console.cli.dispatch import build_parser; build_parser()")
    assert not loaded & {"textual", "ib_async", "broker"}, loaded


def test_building_the_parser_loads_neither_the_domain_nor_pydantic() -> None:
    """`deskgate kill` from another shell must not wait for the engine, pydantic or sqlite to load:
    the only domain module the parser needs is the control wire's constants (stdlib only)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from console.cli.dispatch import build_parser; build_parser(); import sys; "
            "print('\\n'.join(sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    modules = set(out.stdout.split())
    domain = {m for m in modules if m.split(".")[0] in {"engine", "console"}}
    assert domain <= {"engine", "engine.control_wire"} | {
        m for m in domain if m.startswith("console")
    }, domain
    assert not {m.split(".")[0] for m in modules} & {
        "pydantic",
        "sqlite_utils",
        "textual",
        "ib_async",
        "broker",
        "plotext",
        "asyncio",
    }
    assert not {m for m in modules if m.startswith(("console.compose", "console.tui"))}
