"""``/v1/scenarios``: a scenario from CSV text, and the stored scenarios."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from optimizer import ScenarioError, ScenarioIssue
from optimizer.scenario import read_files

from ..deps import ServiceDep
from ..errors import ApiError, JsonRoute, error_responses
from ..models import ImportRequest

router = APIRouter(route_class=JsonRoute, tags=["plans"])

#: The scenario keys whose rows may come as CSV text (``<key>_csv``).
TABLES = ("accounts", "csms")


@router.post("/scenarios/import", responses=error_responses(413))
async def import_scenario(service: ServiceDep, body: ImportRequest) -> dict[str, Any]:
    """A scenario whose accounts and CSMs come as CSV text, read as the CLI reads CSV files
    (lists split on ';', empty cells absent), answered validated with every row inline."""
    with tempfile.TemporaryDirectory(prefix="territory-import-") as folder:
        data = _write_tables(body, Path(folder))
        try:
            data, file_issues = read_files(data, Path(folder))
        except ScenarioError as exc:
            raise ApiError(422, "The CSV files could not be read.", exc.issues) from None
        except (csv.Error, ValueError) as exc:
            raise ApiError(422, f"The CSV files could not be read: {exc}") from None
    try:
        _, validated = service.scenario(data)
    except ApiError as exc:
        if exc.status_code != 422 or not file_issues:
            raise
        issues = file_issues + exc.issues  # every problem at once, as load_scenario does
        raise ApiError(422, f"{len(issues)} problem(s) in the scenario.", issues) from None
    if file_issues:
        raise ApiError(422, f"{len(file_issues)} problem(s) in the CSV files.", file_issues)
    return validated


def _write_tables(body: ImportRequest, folder: Path) -> dict[str, Any]:
    """The scenario with each CSV text written to ``folder`` and named in it, as a scenario
    file names its CSV files: the CLI's reader then reads them the same way.

    Raises
    ------
    ApiError
        422 naming each table the scenario names but the request lacks, and each text that
        cannot be written as UTF-8 (a lone surrogate is valid JSON but no text).
    """
    data = dict(body.scenario)
    issues: list[ScenarioIssue] = []
    for kind in TABLES:
        text: str | None = getattr(body, f"{kind}_csv")
        if text is None:
            if isinstance(data.get(kind), str):
                issues.append(
                    ScenarioIssue(
                        path=kind,
                        message=f"the scenario names {data[kind]!r}: send its rows as "
                        f"'{kind}_csv' (CSV text)",
                    )
                )
            continue
        try:
            raw = text.encode("utf-8")
        except UnicodeError:
            issues.append(ScenarioIssue(path=f"{kind}_csv", message="must be CSV text"))
            continue
        (folder / f"{kind}.csv").write_bytes(raw)
        data[kind] = f"{kind}.csv"
    if issues:
        raise ApiError(422, f"{len(issues)} problem(s) in the request.", issues)
    return data


@router.get("/scenarios/{scenario_id}", responses=error_responses(404))
def get_scenario(service: ServiceDep, scenario_id: str) -> dict[str, Any]:
    """A stored scenario, as validated (every default filled in)."""
    data = service.store.scenario(scenario_id)
    if data is None:
        raise ApiError(404, f"No scenario {scenario_id!r}.")
    return data
