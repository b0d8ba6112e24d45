"""`deskgate backtest / journal / learning`: bad input is one line naming what is wrong."""

from __future__ import annotations

from console.cli import main


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deskgate: ")
    return err


def test_unknown_strategy_and_unknown_symbol_are_refused(tmp_path, capsys):
    assert main(["backtest", "--strategies", "K1,K9", "--out", str(tmp_path)]) == 2
    assert "unknown strategy K9" in one_line_error(capsys)
    assert main(["backtest", "--symbols", "XYZ", "--out", str(tmp_path)]) == 2
    assert "XYZ: not a future" in one_line_error(capsys)
    assert not list(tmp_path.iterdir())


def test_journal_since_must_be_a_date(tmp_path, capsys):
    assert main(["journal", "--data-dir", str(tmp_path), "--since", "noon"]) == 2
    assert "--since 'noon'" in one_line_error(capsys)


def test_empty_data_dir_reports_nothing_recorded(tmp_path, capsys):
    assert main(["journal", "--data-dir", str(tmp_path)]) == 0
    assert "no journal lines recorded" in capsys.readouterr().out
    assert main(["learning", "--data-dir", str(tmp_path)]) == 0
    assert "no strategy has closed a trade yet" in capsys.readouterr().out
    assert main(["learning", "--data-dir", str(tmp_path), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "{}"
