"""``main``: parse the command line, run the command, return its exit code.

No optimization logic lives in ``cli``: each command loads its input, calls the engine
(``optimizer``, ``coverage``, ``scenarios``, ``documents``, ``api``) and hands the result to
``render``. Exit codes are in ``cli.exits``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

from .commands import batch, between, coverage, documents, serve, solve
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
    "monitor": between.cmd_monitor,
    "route": between.cmd_route,
    "outcomes": between.cmd_outcomes,
    "compare": batch.cmd_compare,
    "sensitivity": batch.cmd_sensitivity,
    "influence": batch.cmd_influence,
    "sweep": batch.cmd_sweep,
    "segment": coverage.cmd_segment,
    "report": documents.cmd_report,
    "import": documents.cmd_import,
    "export": documents.cmd_export,
    "serve": serve.cmd_serve,
}


@contextmanager
def native_output_to_stderr() -> Iterator[None]:
    """While a command runs, what native code writes straight to file descriptor 1 goes to the
    standard error, and Python's own ``sys.stdout`` still to the standard output.

    The HiGHS library inside OR-Tools sometimes prints a debug line
    (``HighsMipSolverData::transformNewIntegerFeasibleSolution ...``) on descriptor 1, which
    would corrupt ``--json`` and ``--csv`` output piped to another program. Only when
    ``sys.stdout`` is the process's own (not under a test's capture or an embedding program's
    replacement)."""
    if sys.stdout is not sys.__stdout__ or sys.stdout is None:
        yield
        return
    try:
        if sys.stdout.fileno() != 1:
            raise OSError
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        yield
        return
    original = sys.stdout
    os.dup2(2, 1)
    sys.stdout = os.fdopen(
        saved,
        "w",
        buffering=1 if getattr(original, "line_buffering", False) else -1,
        encoding=original.encoding,
        errors=original.errors,
        closefd=False,
    )
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        sys.stdout = original


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
        with native_output_to_stderr():
            return COMMANDS[args.command](args, console, err)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return EXIT_INTERRUPTED
