"""Free-form sweeps: every combination of a few settings, solved in parallel.

An axis is ``section.field=v1,v2,...`` with ``section`` one of ``objectives``, ``constraints``,
``solver``; values are JSON scalars (``0.1``, ``null``, ``true``) or text. The sweep solves the
cartesian product of the axes. A combination the scenario contract rejects (a tolerance of 1.5,
say) is reported with its name and problems; the others still run.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optimizer import Plan, Scenario, ScenarioError, ScenarioIssue

from .executors import Outcome, run_scenarios

SECTIONS = ("objectives", "constraints", "solver")

Axis = tuple[str, str, list[Any]]  # (section, field, values)


def parse_axis(spec: str) -> Axis:
    """``"constraints.arr_tolerance=0.1,0.15"`` -> ``("constraints", "arr_tolerance", [0.1, 0.15])``."""
    key, sep, raw = spec.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not name or not raw.strip():
        raise ScenarioError(
            [ScenarioIssue(path=spec, message="expected section.field=value1,value2,...")]
        )
    if section not in SECTIONS:
        raise ScenarioError(
            [
                ScenarioIssue(
                    path=spec,
                    message=f"section must be one of {', '.join(SECTIONS)}, not {section!r}",
                )
            ]
        )
    return section, name, [_value(v.strip()) for v in raw.split(",")]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@dataclass
class SweepRow:
    """One combination: its settings, and its plan or the problems that kept it from running."""

    name: str
    settings: dict[str, Any]
    plan: Plan | None
    issues: list[ScenarioIssue]


def variants(
    base: Scenario, axes: list[Axis]
) -> list[tuple[str, dict[str, Any], Scenario | ScenarioError]]:
    """Every combination of the axes: (name, settings, scenario or the error that rejects it)."""
    out: list[tuple[str, dict[str, Any], Scenario | ScenarioError]] = []
    for combo in itertools.product(*(values for _, _, values in axes)):
        settings = {
            f"{section}.{name}": value
            for (section, name, _), value in zip(axes, combo, strict=True)
        }
        label = ", ".join(f"{k}={json.dumps(v)}" for k, v in settings.items())
        sections: dict[str, dict[str, Any]] = {}
        for (section, name, _), value in zip(axes, combo, strict=True):
            sections.setdefault(section, getattr(base, section).model_dump())[name] = value
        try:
            out.append((label, settings, base.replace(name=label, **sections)))
        except ScenarioError as exc:
            out.append((label, settings, exc))
    return out


def sweep(
    base: Scenario,
    axes: list[Axis],
    *,
    scheduler: Any = None,
    workers: int | None = None,
    on_done: Callable[[int, Outcome], None] | None = None,
    **solve_options: Any,
) -> list[SweepRow]:
    """Solve every valid combination in parallel; ``solve_options`` go to :func:`optimizer.solve`."""
    planned = variants(base, axes)
    valid = [(label, settings, s) for label, settings, s in planned if isinstance(s, Scenario)]
    outcomes = run_scenarios(
        [s for _, _, s in valid],
        scheduler=scheduler,
        workers=workers,
        on_done=on_done,
        **solve_options,
    )
    solved = {label: outcome for (label, _, _), outcome in zip(valid, outcomes, strict=True)}
    rows = []
    for label, settings, scenario in planned:
        if isinstance(scenario, ScenarioError):
            rows.append(SweepRow(label, settings, None, scenario.issues))
            continue
        outcome = solved[label]
        plan = outcome.as_plan(label)
        rows.append(SweepRow(label, settings, plan, []))
    return rows
