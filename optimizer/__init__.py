"""Territory assignment engine: assign customer accounts to CSMs with a provable MIP.

>>> from optimizer import load_scenario, solve, evaluate
>>> scenario = load_scenario("examples/seed_150x8/scenario.json")  # doctest: +SKIP
>>> plan = solve(scenario)                                           # doctest: +SKIP
>>> plan.status, plan.objective, plan.gap                            # doctest: +SKIP

The engine imports nothing from the CLI (``scenarios``) or the HTTP API (``api``).
"""

from .backends import BACKENDS, Progress
from .diagnose import Conflict, Diagnosis
from .evaluate import Evaluation, Violation, evaluate, load_assignment
from .plan import Plan
from .scenario import (
    Account,
    Constraints,
    Csm,
    Objectives,
    Scenario,
    ScenarioError,
    ScenarioIssue,
    SolverSettings,
    json_schema,
    load_scenario,
)
from .solve import recover, solve
from .status import Status, Termination

__all__ = [
    "BACKENDS",
    "Account",
    "Conflict",
    "Constraints",
    "Csm",
    "Diagnosis",
    "Evaluation",
    "Objectives",
    "Plan",
    "Progress",
    "Scenario",
    "ScenarioError",
    "ScenarioIssue",
    "SolverSettings",
    "Status",
    "Termination",
    "Violation",
    "evaluate",
    "json_schema",
    "load_assignment",
    "load_scenario",
    "recover",
    "solve",
]
