"""The real-data example end to end: segment the RavenStack scenario, check the segments
against an independent computation from the CSV columns, then route and solve it."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from conftest import ROOT

from coverage import route, segment
from documents.letters import communications
from optimizer import evaluate, load_scenario, solve

SCENARIO = ROOT / "examples" / "ravenstack" / "scenario.json"
LEVEL = {"low": 0.05, "medium": 0.2, "high": 0.5}
#: The built-in coverage segments: name, min need score, FTE per account, workload.
SEGMENTS = [
    ("Task Force", 0.6, 3 / 6, 12.0),
    ("Sync", 0.4, 1 / 20, 5.0),
    ("Async", 0.2, 1 / 50, 2.0),
    ("Inbound", 0.0, 1 / 300, 0.5),
]


def _number(cell: str, default: float) -> float:
    if cell == "":
        return default
    return LEVEL[cell] if cell in LEVEL else float(cell)


def _expected_segments() -> dict[str, str]:
    """The need score with the default weights, recomputed from accounts.csv."""
    out = {}
    with (SCENARIO.parent / "accounts.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            complexity = (int(row["complexity"]) - 1) / 4
            churn = _number(row["churn_risk"], 0.05)
            immaturity = (5 - int(row["maturity"])) / 4 if row["maturity"] else 0.5
            adoption_gap = 1 - float(row["adoption"]) if row["adoption"] else 0.5
            competitive = _number(row.get("competitive_risk", ""), 0.0)
            need = (
                0.3 * complexity
                + 0.25 * churn
                + 0.2 * immaturity
                + 0.15 * adoption_gap
                + 0.1 * competitive
            )
            out[row["id"]] = next(name for name, low, _, _ in SEGMENTS if need >= low - 1e-12)
    return out


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return load_scenario(SCENARIO)


def test_segments_match_an_independent_computation(scenario) -> None:  # type: ignore[no-untyped-def]
    report = segment(scenario)
    expected = _expected_segments()
    assert {r.account_id: r.segment for r in report.accounts} == expected
    counts = Counter(expected.values())
    needed = {m.name: m.fte_needed for m in report.capacity.models}
    for name, _, fte, _ in SEGMENTS:
        assert needed[name] == pytest.approx(counts[name] * fte)
    # Misaligned = today's coverage (the accounts' ARR band) differs from the need segment.
    today = {a.id: a.coverage for a in scenario.accounts}
    misaligned = sum(1 for a, seg in expected.items() if today[a] != seg)
    assert report.misalignment.misaligned == misaligned
    assert len(report.migrations) == misaligned
    texts = communications(scenario, report)
    assert len(texts) == misaligned + 1  # one letter per migration and the announcement


@pytest.mark.slow
def test_route_and_solve_balances_segment_workloads(scenario) -> None:  # type: ignore[no-untyped-def]
    report = segment(scenario)
    routing = route(scenario, report)
    pooled = {r.account_id for r in report.accounts if r.segment == "Inbound"}
    assert set(routing.pooled) == pooled
    routed = routing.scenario.replace(
        solver=routing.scenario.solver.model_copy(update={"time_limit_s": 8.0})
    )
    plan = solve(routed)
    assert plan.status in ("optimal", "feasible")
    assignment = {r.account_id: r.csm_id for r in plan.assignments}
    assert set(assignment) == {a.id for a in scenario.accounts} - pooled
    assert evaluate(routed, assignment).violations == []
    # Every book's workload, counted in segment workload units, within +/-30 % of the target.
    workload = {name: w for name, _, _, w in SEGMENTS}
    segment_of = {r.account_id: r.segment for r in report.accounts}
    books: Counter[str] = Counter()
    for account, csm in assignment.items():
        books[csm] += workload[segment_of[account]]
    target = sum(books.values()) / len(scenario.csms)
    assert len(books) == len(scenario.csms)
    for csm, load in books.items():
        assert abs(load - target) <= 0.3 * target + 1e-6, (csm, load, target)
