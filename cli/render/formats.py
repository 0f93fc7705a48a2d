"""Cell formats shared by the tables of several commands (money is ``optimizer.units.money``)."""

from __future__ import annotations

import math
from collections.abc import Callable

from scenarios.gaps import WITHIN_THE_GAP


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


def plus_minus(
    value: float | None,
    uncertainty: float | None,
    within_gap: bool,
    fmt: Callable[[float], str] | None = None,
) -> str:
    """Format a difference of solved values with its uncertainty (``scenarios.gaps``).

    Parameters
    ----------
    value : float or None
        The difference; ``None`` shows as ``-``.
    uncertainty : float or None
        The sum of the absolute gaps involved; ``None``: a bound is missing.
    within_gap : bool
        Whether the difference is within the gap: then it is shown as such, not as a number
        that could be read as a ranking.
    fmt : callable, optional
        Formats a magnitude; default: enough decimals (four to eight) to show two significant
        digits of the uncertainty.

    Returns
    -------
    str
        ``+0.0123 ± 0.0004``, ``within the gap (± 0.000034)`` (``(no bound)`` without one), or
        ``0`` when both values are proven equal.
    """
    if value is None:
        return "-"
    if fmt is None:
        decimals = 4
        if uncertainty and uncertainty >= 1e-8:
            decimals = min(8, max(4, 1 - math.floor(math.log10(uncertainty))))
        fmt = lambda v: f"{v:.{decimals}f}"  # noqa: E731
    if within_gap:
        if uncertainty is not None and abs(value) <= 1e-9 and uncertainty <= 1e-9:
            return "0"
        return f"{WITHIN_THE_GAP} " + (
            "(no bound)" if uncertainty is None else f"(± {fmt(uncertainty)})"
        )
    text = signed(value, fmt)
    return text if uncertainty is None else f"{text} ± {fmt(uncertainty)}"
