"""``main``: parse the command line, run the command, return its exit code.

No optimization logic lives in ``cli``: each command loads its input, calls the engine
(``optimizer``, ``coverage``, ``scenarios``, ``documents``, ``api``) and hands the result to
``render``. Exit codes are in ``cli.exits``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rich.console import Console

from .commands import batch, coverage, documents, serve, solve
from .exits import EXIT_INTERRUPTED
from .parser import build_parser

# A command reads its parsed options, prints results on the first console and problems on the
# second (stderr), and returns an exit code.
Command = Callable[[argparse.Namespace, Console, Console], int]

COMMANDS: dict[str, Command] = {
    "solve": solve.cmd_solve,
    "evaluate": solve.cmd_evaluate,
    "validate": solve.cmd_validate,
    "schema": solve.cmd_schema,
    "compare": batch.cmd_compare,
    "sensitivity": batch.cmd_sensitivity,
    "sweep": batch.cmd_sweep,
    "segment": coverage.cmd_segment,
    "report": documents.cmd_report,
    "import": documents.cmd_import,
    "export": documents.cmd_export,
    "serve": serve.cmd_serve,
}


def main(argv: list[str] | None = None) -> int:
    """Run the ``territory`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        The exit code (see ``cli.exits``). argparse itself exits with 2 on a usage error.
    """
    args = build_parser().parse_args(argv)
    # Piped or redirected output gets a fixed width: Rich would otherwise wrap tables at 80.
    console = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
    try:
        return COMMANDS[args.command](args, console, err)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return EXIT_INTERRUPTED
