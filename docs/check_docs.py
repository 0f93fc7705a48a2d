"""Check that the docs still match the code: ``python docs/check_docs.py`` (exit 1 on drift).

- docs/scenario.schema.json equals the schema generated from the pydantic models;
- every scenario key is in docs/scenario-format.md, every plan/KPI/book key in plan-format.md;
- examples/tiny/scenario.json solves to the objective quoted in the docs;
- every HTTP route and every server setting is in docs/api.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer import (  # noqa: E402
    Account,
    Constraints,
    Csm,
    Objectives,
    Scenario,
    SolverSettings,
    Status,
    json_schema,
    load_scenario,
    solve,
)
from optimizer.evaluate import Book  # noqa: E402
from optimizer.scenario import (  # noqa: E402
    DIMENSIONS,
    CoverageModel,
    Monitor,
    Segmentation,
    Transition,
)
from scenarios.monitor import TRIGGERS  # noqa: E402

TINY_OBJECTIVE = "0.18459"


def main() -> int:
    problems: list[str] = []
    schema = json.loads((ROOT / "docs" / "scenario.schema.json").read_text(encoding="utf-8"))
    if schema != json_schema():
        problems.append("docs/scenario.schema.json is stale: run `territory schema --out ...`")

    scenario_doc = (ROOT / "docs" / "scenario-format.md").read_text(encoding="utf-8")
    for model in (Scenario, Csm, Account, Objectives, Constraints, SolverSettings, Transition):
        for key in model.model_fields:
            if f"`{key}`" not in scenario_doc:
                problems.append(f"scenario-format.md does not document {model.__name__}.{key}")
    segmentation_doc = (ROOT / "docs" / "segmentation.md").read_text(encoding="utf-8")
    for model in (Segmentation, CoverageModel):
        for key in model.model_fields:
            if f"`{key}`" not in segmentation_doc:
                problems.append(f"segmentation.md does not document {model.__name__}.{key}")
    monitor_doc = (ROOT / "docs" / "monitor.md").read_text(encoding="utf-8")
    for key in (*Monitor.model_fields, *TRIGGERS):
        if f"`{key}`" not in monitor_doc:
            problems.append(f"monitor.md does not document `{key}`")
    for key in DIMENSIONS:
        if f"`{key}`" not in segmentation_doc:
            problems.append(f"segmentation.md does not document the dimension {key}")

    plan = solve(load_scenario(ROOT / "examples" / "tiny" / "scenario.json"))
    data = plan.to_dict()
    plan_doc = (ROOT / "docs" / "plan-format.md").read_text(encoding="utf-8")
    keys = set(data) | set(data["objective"]) | set(data["assignments"][0])
    keys |= set(data["kpis"]["after"]) | set(Book.__dataclass_fields__) - {"csm_id", "name"}
    for key in sorted(keys):
        if f"`{key}`" not in plan_doc:
            problems.append(f"plan-format.md does not document `{key}`")

    if plan.status is not Status.OPTIMAL or f"{plan.objective:.5f}" != TINY_OBJECTIVE:
        problems.append(
            f"examples/tiny: got {plan.status} {plan.objective}, docs say {TINY_OBJECTIVE}"
        )

    problems += _api_problems()
    for problem in problems:
        print(problem)
    print("docs OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def _api_problems() -> list[str]:
    from dataclasses import fields

    from fastapi.routing import APIRoute

    from api import Settings, create_app

    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    app = create_app(Settings(database_url="sqlite://"))  # not started: no processes
    problems = []
    # The OpenAPI paths, not app.routes: included routers are not flattened into app.routes.
    documented = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    documented |= {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods - {"HEAD"}
    }
    if not any(path.startswith("/v1/") for _, path in documented):
        problems.append("no /v1 route found: the route check itself is broken")
    for method, path in sorted(documented):
        if f"`{method} {path}" not in doc:
            problems.append(f"api.md does not document {method} {path}")
    for field in fields(Settings):
        if f"`TERRITORY_{field.name.upper()}`" not in doc:
            problems.append(f"api.md does not document TERRITORY_{field.name.upper()}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
