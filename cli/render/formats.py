"""Cell formats shared by the tables of several commands (money is ``optimizer.units.money``)."""

from __future__ import annotations

from collections.abc import Callable


def pct(value: float | None, digits: int = 0) -> str:
    """Format a share as a percentage, ``-`` when there is no value.

    Parameters
    ----------
    value : float or None
        The share (0.25 is 25%).
    digits : int
        Decimals shown.

    Returns
    -------
    str
        The cell text.
    """
    return "-" if value is None else f"{value:.{digits}%}"


def signed(value: float | None, fmt: Callable[[float], str] | None = None) -> str:
    """Format a change with an explicit sign, ``-`` when there is no value.

    Parameters
    ----------
    value : float or None
        The change.
    fmt : callable, optional
        Formats the magnitude (money, a percentage); default four decimals.

    Returns
    -------
    str
        The cell text, ``+`` or ``-`` first.
    """
    if value is None:
        return "-"
    text = fmt(abs(value)) if fmt else f"{abs(value):.4f}"
    return ("-" if value < 0 else "+") + text
