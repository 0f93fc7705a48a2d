"""Input problems, as every command that reads a scenario or input files lists them."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from optimizer import ScenarioError


def print_issues(
    console: Console, error: ScenarioError, outcome: str = "nothing was solved"
) -> None:
    """Print every problem at once, each with the path of the field or cell it concerns.

    Parameters
    ----------
    console : rich.console.Console
        Where to print (the commands pass stderr).
    error : optimizer.ScenarioError
        The problems found while loading or changing the input.
    outcome : str
        What the problems prevented, for the first line.
    """
    console.print(f"[bold red]Invalid input[/]: {len(error.issues)} problem(s), {outcome}.")
    for issue in error.issues:
        # Paths hold ids in brackets (accounts[acme].arr): escaped, or Rich reads them as markup.
        console.print(f"  - [bold]{escape(issue.path)}[/]: {escape(issue.message)}")
