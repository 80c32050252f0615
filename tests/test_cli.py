"""The command dispatcher: lazy imports, one-line errors, help kept in step."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from capacity.cli import COMMANDS, build_parser, chosen_command, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_dispatcher_lists_each_command_with_its_own_help(name: str) -> None:
    subparsers = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(f"capacity.commands.{name}").add_parser(subparsers)

    registered = {action.dest: action.help for action in subparsers._choices_actions}

    assert registered == {name: COMMANDS[name]}


def test_a_light_command_does_not_import_the_notebook_runner() -> None:
    script = (
        "import sys, io\n"
        "from capacity.cli import main\n"
        "main(['catalog', '--family', 't3'], out=io.StringIO())\n"
        "print('capacity.report' in sys.modules, 'papermill' in sys.modules)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["False", "False"]


def test_the_command_is_the_first_word_that_names_one() -> None:
    assert chosen_command(["--version"]) == ""
    assert chosen_command(["run", "credits"]) == "run"


def test_every_command_parses_its_help_when_all_are_loaded() -> None:
    parser = build_parser()

    for name in COMMANDS:
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([name, "--help"])
        assert stop.value.code == 0


def test_an_unknown_command_is_one_line_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["bogus"])

    error = capsys.readouterr().err
    assert stop.value.code == 2
    assert error.count("\n") == 1
    assert "invalid choice: 'bogus'" in error and "'recommend'" in error
