"""How money is written for people: $2.40M, $250K, $1.2K, $900."""

from __future__ import annotations


def money(value: float) -> str:
    """ARR the way CS leaders write it, with enough digits to tell close amounts apart."""
    size = abs(value)
    if size >= 1e6:
        return f"${value / 1e6:,.2f}M"
    if size >= 1e5:
        return f"${value / 1e3:,.0f}K"
    if size >= 1e3:
        return f"${value / 1e3:,.1f}K"
    return f"${value:,.0f}"
