"""Every option of every `zapbot` command has help text; `zapbot bench --help` lists the benchmarks."""

from __future__ import annotations

import argparse

import pytest

from zapbot_tui import cli

COMMANDS = [
    ["run"],
    ["config"],
    ["traders"],
    ["trades"],
    ["status"],
    ["sim"],
    ["scout", "x"],
    ["bench", "decode"],
    ["bench", "pipeline"],
    ["bench", "scale"],
    ["bench", "sim"],
]
# `zapbot decode` (engine/decoding/cli.py) is the decoder's own and is being rewritten; not listed here.


class Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def parsers_of(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk of its sub-parsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                yield from parsers_of(sub)


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_option_has_help(argv, monkeypatch, zapbot_home):
    def capture(self, args=None, namespace=None):
        raise Captured(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    with pytest.raises(Captured) as info:
        cli.main(list(argv))
    missing = [
        f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
        for parser in parsers_of(info.value.parser)
        for action in parser._actions  # noqa: SLF001
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))  # noqa: SLF001
        and not action.help
    ]
    assert missing == []
    for parser in parsers_of(info.value.parser):
        parser.format_help()  # what --help prints: a bare % in a help text would raise here


def test_bench_help_lists_the_subcommands(capsys):
    assert cli.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.BENCHMARKS:
        assert f"  {name} " in out
    assert cli.main(["bench"]) == 2
    assert "zapbot bench --help" in capsys.readouterr().err
