"""One self-contained HTML report of a plan: charts, moves with explanations, waves.

``render_html(plan_dict)`` reads only the plan JSON (docs/plan-format.md), so a plan file is
enough: ``territory report plan.json --out report.html``. The page has inline CSS and inline
SVG charts, no script and no external resource, so it opens offline and can be mailed. Every
value from the plan is escaped (account names are user input).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from optimizer.explain.book_goals import describe
from optimizer.units import money

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: Colours: before, after, band.
BEFORE, AFTER, BAND = "#9aa5b1", "#2563eb", "#dcfce7"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    before: Sequence[float | None],
    after: Sequence[float | None],
    *,
    fmt: Callable[[float], str],
    band: tuple[float, float] | None = None,
    reference: float | None = None,
    chart_id: str = "",
) -> Markup:
    """Horizontal paired bars (before grey, after blue) per label, with an optional shaded band
    (e.g. the tolerance window around 100 % of target) and a reference line."""
    row_h, pad_left, width, top = 26, 190, 720, 34
    height = top + row_h * len(labels) + 30
    values = [v for v in (*before, *after) if v is not None]
    high = max([*values, band[1] if band else 0.0, reference or 0.0, 1e-9]) * 1.08
    scale = (width - pad_left - 70) / high

    def x(v: float) -> float:
        return pad_left + v * scale

    parts = [
        f'<svg class="chart" id="{_esc(chart_id)}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_esc(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" class="chart-title">{_esc(title)}</text>',
        f'<rect x="{pad_left}" y="22" width="10" height="8" fill="{BEFORE}"/>'
        f'<text x="{pad_left + 14}" y="30" class="legend">before</text>'
        f'<rect x="{pad_left + 70}" y="22" width="10" height="8" fill="{AFTER}"/>'
        f'<text x="{pad_left + 84}" y="30" class="legend">after</text>',
    ]
    if band is not None:
        parts.append(
            f'<rect x="{x(band[0]):.1f}" y="{top}" width="{(band[1] - band[0]) * scale:.1f}" '
            f'height="{row_h * len(labels)}" fill="{BAND}"><title>tolerance band '
            f"{_esc(fmt(band[0]))} to {_esc(fmt(band[1]))}</title></rect>"
        )
        parts.append(f'<text x="{x(band[1]) + 4:.1f}" y="{top + 10}" class="legend">band</text>')
    if reference is not None:
        parts.append(
            f'<line x1="{x(reference):.1f}" y1="{top - 4}" x2="{x(reference):.1f}" '
            f'y2="{top + row_h * len(labels)}" class="ref"/>'
        )
    for i, label in enumerate(labels):
        y = top + i * row_h
        parts.append(
            f'<text x="{pad_left - 6}" y="{y + 16}" text-anchor="end" class="label">'
            f"{_esc(label)}</text>"
        )
        for j, (values_, colour) in enumerate(((before, BEFORE), (after, AFTER))):
            v = values_[i]
            if v is None:
                continue
            parts.append(
                f'<rect x="{pad_left}" y="{y + 3 + j * 10}" width="{max(v * scale, 0.5):.1f}" '
                f'height="9" fill="{colour}"><title>{_esc(label)} '
                f"{'before' if j == 0 else 'after'}: {_esc(fmt(v))}</title></rect>"
            )
        last = after[i] if after[i] is not None else before[i]
        if last is not None:
            parts.append(
                f'<text x="{x(last) + 4:.1f}" y="{y + 20}" class="value">{_esc(fmt(last))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str,
    points: Sequence[tuple[str, float]],
    *,
    fmt: Callable[[float], str],
    chart_id: str,
    notes: Sequence[str] | None = None,
) -> Markup:
    """A line through ``(label, value)`` points, labels on the x axis; ``notes`` (one per point)
    are added to each point's tooltip."""
    width, height, left, right, top, bottom = 720, 260, 70, 20, 30, 40
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or max(abs(high), 1e-9)
    step = (width - left - right) / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top + (high - v) / span * (height - top - bottom)

    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    parts = [
        f'<svg class="chart" id="{_esc(chart_id)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_esc(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" class="chart-title">{_esc(title)}</text>',
        f'<path d="{path}" fill="none" stroke="{AFTER}" stroke-width="2"/>',
    ]
    for i, ((label, value), (x, y)) in enumerate(zip(points, coords, strict=True)):
        note = f", {notes[i]}" if notes and notes[i] else ""
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{AFTER}"><title>{_esc(label)}: '
            f"{_esc(fmt(value))}{_esc(note)}</title></circle>"
            f'<text x="{x:.1f}" y="{height - 18}" text-anchor="middle" class="label">'
            f"{_esc(label)}</text>"
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" class="value">'
            f"{_esc(fmt(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def charts(plan: dict[str, Any], sensitivity: dict[str, Any] | None = None) -> list[Markup]:
    """The report's charts: ARR and workload against target with the tolerance band, risk
    concentration, and the disruption frontier when a sensitivity analysis is given."""
    csms = plan.get("csms") or []
    if not csms:
        return []
    rules = plan.get("constraints") or {}
    labels = [c.get("name") or c["csm_id"] for c in csms]

    def get(book: dict[str, Any] | None, key: str) -> float | None:
        return None if book is None else book.get(key)

    out = []
    for key, tolerance_key, title, chart_id in (
        ("arr_vs_target", "arr_tolerance", "ARR as a share of each CSM's target", "chart-arr"),
        (
            "workload_vs_target",
            "workload_tolerance",
            "Workload as a share of each CSM's target",
            "chart-workload",
        ),
    ):
        tolerance = rules.get(tolerance_key)
        band = None if tolerance is None else (1 - tolerance, 1 + tolerance)
        out.append(
            bar_chart(
                title + ("" if band else " (no tolerance set)"),
                labels,
                [get(c.get("before"), key) for c in csms],
                [get(c.get("after"), key) for c in csms],
                fmt=_pct,
                band=band,
                reference=1.0,
                chart_id=chart_id,
            )
        )
    if any(get(c.get("before"), "utilization") is not None for c in csms):
        limits = rules.get("utilization") or {}
        low, high = limits.get("at_least"), limits.get("at_most")
        used = [[get(c.get(side), "utilization") for c in csms] for side in ("before", "after")]
        most = max([v for row in used for v in row if v is not None] + [low or 0.0])
        out.append(
            bar_chart(
                "Utilization per CSM (hours a week / hours available)"
                + ("" if low is not None or high is not None else " (no band set)"),
                labels,
                used[0],
                used[1],
                fmt=_pct,
                band=None
                if low is None and high is None
                else (low or 0.0, most if high is None else high),
                reference=1.0,
                chart_id="chart-utilization",
            )
        )
    if any(get(c.get("before"), "travel_hours") is not None for c in csms):
        out.append(
            bar_chart(
                "Travel hours a quarter per CSM (in-person visits, round trips)",
                labels,
                [get(c.get("before"), "travel_hours") for c in csms],
                [get(c.get("after"), "travel_hours") for c in csms],
                fmt=lambda v: f"{v:,.0f} h",
                chart_id="chart-travel",
            )
        )
    out.append(
        bar_chart(
            "Expected ARR at risk per CSM (risk concentration)",
            [
                f"{label} ({get(c.get('after'), 'high_risk') or 0} high-risk)"
                for label, c in zip(labels, csms, strict=True)
            ],
            [get(c.get("before"), "arr_at_risk") for c in csms],
            [get(c.get("after"), "arr_at_risk") for c in csms],
            fmt=money,
            chart_id="chart-risk",
        )
    )
    frontier = [
        f for f in (sensitivity or {}).get("frontier") or [] if f.get("objective") is not None
    ]
    points = [
        ("no limit" if f.get("value") is None else str(f["value"]), float(f["objective"]))
        for f in frontier
    ]
    if len(points) >= 2:
        out.append(
            line_chart(
                "Disruption frontier: best objective per move budget",
                points,
                fmt=lambda v: f"{v:.4f}",
                chart_id="chart-frontier",
                notes=[_frontier_note(f) for f in frontier],
            )
        )
    return out


def _frontier_note(point: dict[str, Any]) -> str:
    """A frontier point's gap, and whether it is within the gap of the best budget (from
    ``territory sensitivity --json``; older files without these keys get no note)."""
    words = []
    if point.get("gap") is not None:
        words.append(f"gap {float(point['gap']):.3%}")
    behind = point.get("behind_best") or {}
    if behind.get("within_gap") and (behind.get("value") or 0) > 0:
        words.append("within the gap of the best")
    return ", ".join(words)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda v: "-" if v is None else money(float(v))
    env.filters["pct"] = lambda v, d=0: _pct(None if v is None else float(v), d)
    env.filters["num"] = lambda v, d=4: "-" if v is None else f"{float(v):.{d}f}"
    return env


def _impact_value(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    unit = row.get("unit")
    if unit == "money":
        if key != "change":
            return money(value)
        return ("+" if value >= 0 else "−") + money(abs(value))
    if unit == "share":
        return f"{value:+.1%}" if key == "change" else f"{value:.1%}"
    if unit == "count":
        return f"{value:+.0f}" if key == "change" else f"{value:.0f}"
    return f"{value:+.3f}" if key == "change" else f"{value:.3f}"


#: How the report shows each KPI change of ``territory influence`` (name, format).
INFLUENCE_KPIS: dict[str, tuple[str, Callable[[float], str]]] = {
    "arr_at_risk": ("ARR at risk", lambda v: ("+" if v >= 0 else "-") + money(abs(v))),
    "expertise_match": ("Expertise match", lambda v: f"{v * 100:+.1f} pts"),
    "expected_expansion_arr": (
        "Expected expansion",
        lambda v: ("+" if v >= 0 else "-") + money(abs(v)),
    ),
    "arr_spread": ("ARR spread", lambda v: f"{v * 100:+.1f} pts"),
    "moves": ("Moves", lambda v: f"{v:+.0f}"),
    "travel_hours": ("Travel h/qtr", lambda v: f"{v:+,.0f}"),
}


def _influence_rows(influence: dict[str, Any] | None) -> dict[str, Any] | None:
    """``territory influence --json`` as the report's table: its KPI headers, and per input
    its change in words, each KPI change as text and whether it lies within the gaps."""
    if not influence:
        return None
    kpis = [k for k in influence.get("kpis") or [] if k in INFLUENCE_KPIS]
    rows = []
    for row in influence.get("rows") or []:
        changes = row.get("kpi_changes") or {}
        cells = []
        for k in kpis:
            value = changes.get(k)
            cells.append("-" if value is None else INFLUENCE_KPIS[k][1](float(value)))
        rows.append(
            {
                "input": row.get("input", ""),
                "change": row.get("change", ""),
                "cells": cells,
                "within_gap": bool(row.get("within_gap")),
            }
        )
    return {"headers": [INFLUENCE_KPIS[k][0] for k in kpis], "rows": rows}


def _monitor_section(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """``territory monitor --json`` as the report's section: the snapshot, the reference and
    each finding's trigger, sentence and action."""
    if not report:
        return None
    findings = [
        {k: f.get(k) for k in ("trigger", "message", "action")}
        for f in report.get("findings") or []
        if isinstance(f, dict)
    ]
    return {
        "scenario": report.get("scenario"),
        "as_of": report.get("as_of"),
        "since": report.get("since"),
        "since_as_of": report.get("since_as_of"),
        "counts": report.get("counts") or {},
        "findings": findings,
    }


def render_html(
    plan: dict[str, Any],
    *,
    sensitivity: dict[str, Any] | None = None,
    influence: dict[str, Any] | None = None,
    monitor: dict[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """The report as one HTML document (inline CSS and SVG, no script, nothing external);
    ``influence`` (``territory influence --json``) adds which inputs matter, ``monitor``
    (``territory monitor --json``) the triggers of a later snapshot."""
    assignments = plan.get("assignments") or []
    transition = plan.get("transition") or {}
    waves = {m["account_id"]: m for m in transition.get("moves", [])}
    moves = [
        {**row, "wave": waves.get(row["account_id"], {})}
        for row in assignments
        if row.get("moved") or row.get("previous_csm_id") is None
    ]
    moves.sort(key=lambda r: (not r.get("moved"), -(r.get("arr") or 0), r["account_id"]))
    impact = [
        {
            **row,
            "before_text": _impact_value(row, "before"),
            "after_text": _impact_value(row, "after"),
            "change_text": _impact_value(row, "change"),
        }
        for row in plan.get("impact") or []
    ]
    context = {
        "title": title or f"Territory plan: {plan.get('scenario') or 'scenario'}",
        "plan": plan,
        "charts": charts(plan, sensitivity),
        "moves": moves,
        "impact": impact,
        "transition": transition,
        "held": plan.get("held") or [],
        "kpis": plan.get("kpis") or {},
        "equity": plan.get("equity"),
        "overrides": plan.get("overrides") or [],
        "book_goals": [{**rule, **describe(rule)} for rule in plan.get("book_goals") or []],
        "influence": _influence_rows(influence),
        "monitor": _monitor_section(monitor),
        "projection": plan.get("projection"),
    }
    return _environment().get_template("report.html.j2").render(**context)
