"""``import`` and ``export``: how each column of the input files was read, what was written.

``documents.importer`` is imported for type checking only: the commands load it when they run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from documents.importer import FileSummary, ImportResult


def columns_table(summary: FileSummary) -> Table:
    """How each column of one imported file was read: the field it fed, or why it was ignored."""
    style = "; European numbers (1.250.000,50)" if summary.european_numbers else ""
    table = Table(
        title=f"{escape(summary.label)}: {summary.rows} row(s) of {summary.kind}{style}",
        title_justify="left",
    )
    for column in ("column", "field", "how"):
        table.add_column(column)
    for column, target, how in summary.mapped:
        table.add_row(escape(column), target, how)
    for column, why in summary.ignored:
        table.add_row(escape(column), "[dim]ignored[/]", why)
    return table


def print_import(
    console: Console, result: ImportResult, written: Sequence[Path], out: Path
) -> None:
    """Print what an import read and wrote, and the command that solves the new scenario.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    result : documents.importer.ImportResult
        The imported scenario and a summary of each file.
    written : sequence of Path
        The files written.
    out : Path
        The ``--out`` folder.
    """
    for summary in result.files:
        console.print(columns_table(summary))
    owners = result.owners_translated
    if any(owners.values()):
        console.print(
            f"Owners translated to CSM ids: {owners['name']} by name, {owners['email']} by email."
        )
    scenario = result.scenario
    console.print(
        f"[green]Imported[/] {len(scenario.accounts)} accounts and {len(scenario.csms)} CSMs "
        f"as of {scenario.as_of}: {escape(', '.join(str(p) for p in written))}"
    )
    console.print(f"Next: territory solve {escape(str(out / 'scenario.json'))}")


def print_export(
    console: Console, updates: list[list[object]], csms: int, from_waves: bool, written: list[Path]
) -> None:
    """Print how many owner updates an export wrote, effective when, and the files.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    updates : list of rows
        The owner update rows; the seventh cell is the effective date.
    csms : int
        How many CSM books were written.
    from_waves : bool
        Whether the dates come from the plan's transition waves.
    written : list of Path
        The files written.
    """
    dates = sorted({str(row[6]) for row in updates})
    when = f" effective {', '.join(dates)}" if dates else ""
    if dates and from_waves:
        when += " (from the plan's transition waves)"
    console.print(
        f"{len(updates)} owner update(s){when}; books of {csms} CSM(s): "
        + escape(", ".join(str(p) for p in written))
    )
