"""The common options: after every verb's name, before it (used or refused), --version, and
one-line errors for a bad option or config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main
from console.cli.dispatch import VERBS, build_parser, parse, parse_command_line
from console.cli.options import CliError


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(err: str) -> str:
    assert err.startswith("deskgate: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "usage:" not in err
    return err.strip()


def leaf_parsers() -> dict[str, object]:
    """Every verb's parser by its command line (`audit verify`, ...)."""
    parser = build_parser()
    out: dict[str, object] = {}
    stack = [("", parser)]
    while stack:
        prefix, p = stack.pop()
        children = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not children and prefix:
            out[prefix.strip()] = p
        for action in children:
            for name, child in action.choices.items():  # type: ignore[union-attr]
                stack.append((f"{prefix} {name}", child))
    return out


def test_every_verb_is_a_module_and_every_verb_takes_config_or_data_dir_after_its_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    leaves = leaf_parsers()
    assert set(leaves) == {
        "console", "init", "propose", "audit verify", "audit tail", "audit export",
        "gateway", "chaos", "probe", "paper", "gates", "signoff", "rollback", "status", "kill",
        "limits set", "backtest", "journal", "learning", "fill-report", "promote",
    }  # fmt: skip
    assert len(VERBS) == 16
    for verb in leaves:
        with pytest.raises(SystemExit):
            main([*verb.split(), "--help"])
        out = capsys.readouterr().out
        assert "--config" in out or "--data-dir" in out, verb


def test_audit_verify_takes_the_data_dir_after_its_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "audit", "verify", "--data-dir", str(tmp_path))
    assert status == 2 and one_line_error(err) == f"deskgate: no audit store under {tmp_path}"


def test_options_before_the_verb_are_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, err = run(capsys, "--data-dir", str(tmp_path), "audit", "verify")
    assert status == 2 and f"no audit store under {tmp_path}" in one_line_error(err)
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_stop_ticks = 'wide'\n")
    status, _, err = run(capsys, "--config", str(bad), "--data-dir", str(tmp_path), "propose", "-")
    assert status == 2 and "risk.max_stop_ticks (line 2)" in one_line_error(err)
    good = tmp_path / "good.toml"
    good.write_text("")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("[]"))
    status, _, err = run(capsys, "--config", str(good), "--data-dir", str(tmp_path), "propose", "-")
    assert f"no deskgate listening at {tmp_path / 'intake.sock'}" in one_line_error(err)


def test_an_option_before_a_verb_that_does_not_take_it_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "--broker", "sim", "audit", "verify")
    assert status == 2
    assert one_line_error(err) == "deskgate: --broker does not apply to `deskgate audit verify`"
    status, _, err = run(capsys, "gateway", "--data-dir", str(tmp_path))
    assert status == 2 and "--data-dir does not apply to `deskgate gateway`" in one_line_error(err)


def test_an_option_given_twice_with_different_values_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys, "--data-dir", str(tmp_path / "a"), "audit", "verify", "--data-dir", str(tmp_path)
    )
    assert status == 2 and "--data-dir given twice with different values" in one_line_error(err)
    status, _, err = run(capsys, "audit", "--data-dir", "x", "tail", "--data-dir", "y")
    assert status == 2 and "--data-dir given twice" in one_line_error(err)
    status, _, err = run(
        capsys, "--data-dir", str(tmp_path), "audit", "verify", "--data-dir", str(tmp_path)
    )
    assert "given twice" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == "deskgate 0.1.0"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--port", "99999", "probe"], "--port: Input should be less than or equal to 65535"),
        (["probe", "--port", "x"], "argument --port: invalid int value: 'x'"),
        (["--chaos", "WILD"], "argument --chaos: choose from"),
        (["audit", "verify", "--bogus"], "unrecognized arguments: --bogus"),
        (["audit"], "audit: the following arguments are required: ACTION"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["--config", "/nonexistent/dg.toml", "gates"], "cannot read config"),
        (["chaos", "--vector", "nope"], "unknown vector nope"),
        (
            [
                "signoff",
                "--role",
                "cto",
                "--name",
                "A",
                "--verdict",
                "APPROVE",
                "--data-dir",
                "/proc/no",
            ],
            "/proc/no",
        ),
        (["signoff", "--role", "cto", "--name", "A"], "required: --verdict"),
        (["signoff", "--role", "cto", "--name", "A", "--verdict", "maybe"], "--verdict: invalid"),
    ],
)
def test_a_bad_option_or_config_is_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2 and needle in one_line_error(err), err


def test_a_verb_that_declares_its_own_options_gets_those_given_before_it(tmp_path: Path) -> None:
    """A verb module whose `register` adds plain `--config`/`--data-dir` options (default None),
    as `deskgate status` does, still gets them from before its name, and is refused the ones it
    does not declare."""
    parser = build_parser()
    args = parse(parser, ["--data-dir", str(tmp_path), "status"])
    assert args.data_dir == str(tmp_path) and args.verb == "status"
    with pytest.raises(CliError, match="--broker does not apply to `deskgate status`"):
        parse(parser, ["--broker", "sim", "status"])
    with pytest.raises(CliError, match="--data-dir given twice"):
        parse(parser, ["--data-dir", "a", "status", "--data-dir", "b"])


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--broker", "sim"],
        ["--no-demo", "--data-dir", "d", "--port", "4002"],
        ["--broker", "sim", "console", "--strategies", "K1"],
        ["status"],
        ["--data-dir", "d", "status"],
    ],
)
def test_plain_deskgate_is_read_as_the_full_parser_reads_it(argv: list[str]) -> None:
    assert vars(parse_command_line(argv)) == vars(parse(build_parser(), argv))


@pytest.mark.parametrize(
    "argv",
    [["--broker", "nowhere"], ["--port"], ["--bogus"], ["--broker", "sim", "nosuchverb"]],
)
def test_a_bad_plain_command_line_is_refused_as_the_full_parser_refuses_it(
    argv: list[str],
) -> None:
    with pytest.raises(CliError) as light:
        parse_command_line(argv)
    with pytest.raises(CliError) as full:
        parse(build_parser(), argv)
    assert str(light.value) == str(full.value)


def test_plain_deskgate_builds_no_verb_parser() -> None:
    code = (
        "import sys; from console.cli.dispatch import VERBS, parse_command_line; "
        "parse_command_line(['--broker', 'sim']); "
        "print(' '.join(v for v in VERBS[1:] if v in sys.modules))"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == ""


def test_help_still_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "audit" in out and "promote" in out and "rollback" in out
