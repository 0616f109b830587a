"""The argument parser every `zapbot` sub-command uses: a usage error is one line on stderr, exit status 2."""

from __future__ import annotations

import argparse
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as `prog: message` (no usage dump) and exits with status 2.

    Sub-parsers made with add_subparsers() are of the same class, so they behave the same way.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")
