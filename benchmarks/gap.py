"""The Generalized Assignment Problem (GAP) benchmark: published instances, solved by the engine.

Account-to-CSM assignment with capacities *is* the GAP: every job (account) goes to exactly one
agent (CSM), each agent's resource use stays within its capacity, and the total cost (or profit)
is optimized. The adapter below writes each instance as an ordinary scenario and solves it with
:func:`optimizer.solve`, through the same validation, instance and model-building code as any
CS scenario:

- agent ``i`` -> CSM ``agent{i}`` with ``max_workload = b[i]``;
- job ``j`` -> account ``job{j}`` with ``workload_by_csm = {agent{i}: a[i][j]}``;
- cost or profit ``c[i][j]`` -> the account's ``preferences`` (profit, or minus the cost), with
  the ``preference`` objective weight alone (ARR is 0, so no balance or churn term plays).

The engine minimizes ``sum_j (best_j - preference_j) / norm`` (docs/scenario-format.md), an
affine map of the GAP value, so the plan's value and bound map back exactly:
``value = sum_j best_j - objective * norm`` (with the sign flipped for cost instances).

    python -m benchmarks.gap --set orlib --time-limit 10          # gap1-12, 60 instances
    python -m benchmarks.gap --set chu --time-limit 10            # types A-E, 100-200 jobs
    python -m benchmarks.gap --set large --time-limit 60          # C/D/E, 400-1,600 jobs
    python -m benchmarks.gap --instances gap1-1,d10100 --backend cpsat

Writes ``results/gap_<set>.csv`` and ``.md``: value found, best known, gap to best known, bound,
whether optimality is proven, seconds and backend per instance. Data and credits:
``benchmarks/data/gap/SOURCES.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import math
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer import Scenario, solve
from optimizer.instance import Instance

DATA = Path(__file__).resolve().parent / "data" / "gap"
RESULTS = Path(__file__).resolve().parent / "results"

#: Named sets of instances (as in best_known.csv).
SETS = {
    "orlib": lambda row: row["file"].startswith("orlib/gap") and row["instance"][3].isdigit(),
    "chu": lambda row: row["instance"][0] in "abcde" and int(row["jobs"]) <= 200,
    "large": lambda row: row["instance"][0] in "cde" and int(row["jobs"]) >= 400,
}


@dataclass(frozen=True)
class GapInstance:
    name: str
    sense: str  # "max" (profit) or "min" (cost)
    cost: list[list[int]]  # [agent][job]
    resource: list[list[int]]  # [agent][job]
    capacity: list[int]

    @property
    def agents(self) -> int:
        return len(self.capacity)

    @property
    def jobs(self) -> int:
        return len(self.cost[0])

    def value(self, assignment: dict[int, int]) -> int:
        """The GAP value of ``assignment`` (job -> agent)."""
        return sum(self.cost[i][j] for j, i in assignment.items())

    def feasible(self, assignment: dict[int, int]) -> bool:
        used = [0] * self.agents
        for j, i in assignment.items():
            used[i] += self.resource[i][j]
        return len(assignment) == self.jobs and all(
            u <= b for u, b in zip(used, self.capacity, strict=True)
        )


def read_numbers(path: Path) -> list[int]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii") as src:
        return [int(token) for token in src.read().split()]


Parsed = tuple[list[list[int]], list[list[int]], list[int]]


def parse(numbers: list[int], count: int | None = None) -> list[Parsed]:
    """OR-Library layout: [P] then per instance m, n, c (m x n), a (m x n), b (m)."""
    pos = 0
    if count is None:
        count, pos = numbers[0], 1
    out = []
    for _ in range(count):
        m, n = numbers[pos], numbers[pos + 1]
        pos += 2
        cost = [numbers[pos + i * n : pos + (i + 1) * n] for i in range(m)]
        pos += m * n
        resource = [numbers[pos + i * n : pos + (i + 1) * n] for i in range(m)]
        pos += m * n
        capacity = numbers[pos : pos + m]
        pos += m
        out.append((cost, resource, capacity))
    if pos != len(numbers):
        raise ValueError(f"{len(numbers) - pos} numbers left over: not the OR-Library GAP layout")
    return out


def best_known(data: Path = DATA) -> list[dict[str, str]]:
    with (data / "best_known.csv").open(encoding="utf-8") as src:
        return list(csv.DictReader(src))


def load(row: dict[str, str], data: Path = DATA) -> GapInstance:
    """The instance a best_known.csv row names."""
    path = data / row["file"]
    if row["file"].startswith("yagiura/"):
        path = path.with_name(path.name + ".gz")
        cost, resource, capacity = parse(read_numbers(path), count=1)[0]
    else:
        cost, resource, capacity = parse(read_numbers(path))[int(row["index_in_file"]) - 1]
    return GapInstance(row["instance"], row["sense"], cost, resource, capacity)


def to_scenario(
    gap: GapInstance, time_limit_s: float, backend: str = "auto", strategy: str = "auto"
) -> Scenario:
    """The GAP instance as an engine scenario (see the module docstring)."""
    sign = 1 if gap.sense == "max" else -1
    csms = [{"id": f"agent{i}", "max_workload": b} for i, b in enumerate(gap.capacity)]
    accounts = []
    for j in range(gap.jobs):
        accounts.append(
            {
                "id": f"job{j}",
                "arr": 0,
                "workload": min(gap.resource[i][j] for i in range(gap.agents)),
                "workload_by_csm": {f"agent{i}": gap.resource[i][j] for i in range(gap.agents)},
                "preferences": {f"agent{i}": sign * gap.cost[i][j] for i in range(gap.agents)},
            }
        )
    return Scenario.from_dict(
        {
            "name": gap.name,
            "as_of": "2026-01-01",
            "csms": csms,
            "accounts": accounts,
            "objectives": {
                "churn_risk": 0,
                "balance": 0,
                "expertise": 0,
                "expansion": 0,
                "continuity": 0,
                "preference": 1,
            },
            "constraints": {"required_skills": False},
            # A relative gap on the engine's objective far below one GAP unit: integral values
            # are then proven by rounding the bound (see ``proven`` below).
            "solver": {
                "backend": backend,
                "time_limit_s": time_limit_s,
                "gap": 1e-9,
                "threads": 1,
                "strategy": strategy,
            },
        }
    )


@dataclass
class Outcome:
    instance: str
    agents: int
    jobs: int
    sense: str
    best_known: int
    best_known_proven: bool
    value: int | None
    bound: float | None
    proven: bool
    seconds: float
    backend: str
    status: str

    @property
    def gap_to_best(self) -> float | None:
        if self.value is None:
            return None
        return abs(self.value - self.best_known) / max(abs(self.best_known), 1)


def run_one(
    row: dict[str, str], time_limit_s: float, backend: str = "auto", strategy: str = "auto"
) -> Outcome:
    gap = load(row)
    scenario = to_scenario(gap, time_limit_s, backend, strategy)
    plan = solve(scenario)
    inst = Instance(scenario)
    sign = 1 if gap.sense == "max" else -1
    total_best = sum(inst._best_preference)
    norm = inst._preference_norm

    def to_gap(objective: float) -> float:
        return sign * (total_best - objective * norm)

    value = bound = None
    proven = False
    if plan.has_plan:
        chosen = {int(a[3:]): int(c[5:]) for a, c in plan.assignment().items()}
        if not gap.feasible(chosen):
            raise AssertionError(f"{gap.name}: the engine's plan breaks a capacity")
        value = gap.value(chosen)
        assert plan.objective is not None
        if abs(to_gap(plan.objective) - value) > 1e-6 * max(1, abs(value)):
            raise AssertionError(f"{gap.name}: objective {plan.objective} does not map to {value}")
        if plan.bound is not None:
            bound = to_gap(plan.bound)
            # Integral data: a bound within one unit of the value proves it.
            rounded = math.floor(bound + 1e-6) if gap.sense == "max" else math.ceil(bound - 1e-6)
            proven = rounded == value
    return Outcome(
        gap.name,
        gap.agents,
        gap.jobs,
        gap.sense,
        int(row["best_known"]),
        row["proven_optimal"] == "yes",
        value,
        bound,
        proven,
        plan.seconds,
        plan.backend,
        plan.status,
    )


COLUMNS = (
    "instance",
    "agents",
    "jobs",
    "sense",
    "best_known",
    "value",
    "gap_to_best_known",
    "bound",
    "proven_optimal",
    "seconds",
    "backend",
)


def record(o: Outcome) -> dict[str, Any]:
    return {
        "instance": o.instance,
        "agents": o.agents,
        "jobs": o.jobs,
        "sense": o.sense,
        "best_known": o.best_known,
        "value": o.value,
        "gap_to_best_known": None if o.gap_to_best is None else round(o.gap_to_best, 6),
        "bound": None if o.bound is None else round(o.bound, 3),
        "proven_optimal": o.proven,
        "seconds": round(o.seconds, 2),
        "backend": o.backend,
    }


def markdown(outcomes: list[Outcome], header: str) -> str:
    lines = [
        header,
        "",
        "| instance | agents x jobs | best known | value | gap to best known | bound | proven | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        gap = "-" if o.gap_to_best is None else f"{o.gap_to_best:.3%}"
        bound = "-" if o.bound is None else f"{o.bound:,.1f}"
        lines.append(
            f"| {o.instance} | {o.agents} x {o.jobs} | {o.best_known:,} | "
            f"{'-' if o.value is None else f'{o.value:,}'} | {gap} | {bound} | "
            f"{'yes' if o.proven else 'no'} | {o.seconds:.1f} |"
        )
    at_best = sum(1 for o in outcomes if o.value == o.best_known)
    proven = sum(1 for o in outcomes if o.proven)
    worst = max((o.gap_to_best or 0.0 for o in outcomes), default=0.0)
    lines += [
        "",
        f"{len(outcomes)} instances: {at_best} at the best-known value, {proven} proven optimal, "
        f"worst gap to best known {worst:.3%}, {sum(o.seconds for o in outcomes):.0f} s in all.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), help="a named set of instances")
    parser.add_argument("--instances", help="comma-separated instance names (best_known.csv)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--backend", default="auto", choices=["auto", "highs", "cpsat", "cbc"])
    parser.add_argument(
        "--strategy", default="auto", choices=["auto", "full", "columns", "lagrangian"]
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the CSV and table")
    args = parser.parse_args(argv)
    rows = best_known()
    if args.instances:
        wanted = set(args.instances.split(","))
        rows = [r for r in rows if r["instance"] in wanted]
        missing = wanted - {r["instance"] for r in rows}
        if missing:
            parser.error(f"unknown instance(s): {', '.join(sorted(missing))}")
        label = "selected"
    elif args.set:
        rows = [r for r in rows if SETS[args.set](r)]
        label = args.set
    else:
        parser.error("give --set or --instances")
    outcomes = []
    for row in rows:
        outcome = run_one(row, args.time_limit, args.backend, args.strategy)
        outcomes.append(outcome)
        print(
            f"{outcome.instance:>10} value {outcome.value} best {outcome.best_known} "
            f"proven {outcome.proven} {outcome.seconds:.1f}s",
            file=sys.stderr,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / f"gap_{label}.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(record(o) for o in outcomes)
    header = (
        f"GAP {label}: {args.time_limit:g} s per instance, backend {args.backend}, "
        f"strategy {args.strategy}, 1 thread; "
        f"{dt.date.today()}, {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}."
    )
    text = markdown(outcomes, header)
    (args.out / f"gap_{label}.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
