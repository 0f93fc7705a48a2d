"""The HTTP API through FastAPI's TestClient: every endpoint and its error paths.

The app is the real one: real solver processes, a real SQLite job store in a temporary folder.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE, ROOT
from fastapi.testclient import TestClient

from api import Settings, create_app
from optimizer import Scenario, load_scenario, solve
from optimizer.scenario import read_json, resolve_files

TINY = ROOT / "examples" / "tiny" / "scenario.json"


def inline(path: Path) -> dict[str, Any]:
    data = resolve_files(read_json(path), path.parent)
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    return inline(TINY)


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return inline(EXAMPLE)


def app_with(tmp_path: Path, **changes: Any) -> TestClient:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'jobs.db'}",
        workers=1,
        sync_time_limit_s=10,
        sync_wait_s=60,
        **changes,
    )
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with app_with(tmp_path_factory.mktemp("api")) as c:
        yield c


def wait_for(client: TestClient, job_id: str, statuses: tuple[str, ...], timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


# Service --------------------------------------------------------------------------------
def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    schema = client.get("/openapi.json").json()
    assert "/v1/plans" in schema["paths"] and "/v1/jobs/{job_id}" in schema["paths"]
    # The request body of a plan is the scenario contract itself.
    body = schema["paths"]["/v1/plans"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Scenario"}
    assert "accounts" in schema["components"]["schemas"]["Scenario"]["properties"]
    assert client.get("/docs").status_code == 200


# Plans ----------------------------------------------------------------------------------
def test_a_plan_is_the_engine_s_optimum_and_is_stored(client: TestClient, tiny: dict) -> None:
    direct = solve(load_scenario(TINY))
    response = client.post("/v1/plans", json=tiny)
    assert response.status_code == 200
    plan = response.json()
    assert plan["status"] == "optimal"
    assert plan["objective"]["total"] == pytest.approx(direct.objective, abs=1e-9)
    assert {r["account_id"]: r["csm_id"] for r in plan["assignments"]} == direct.assignment()
    assert response.headers["location"] == f"/v1/plans/{plan['plan_id']}"
    stored = client.get(f"/v1/plans/{plan['plan_id']}").json()
    assert stored == plan
    job = client.get(f"/v1/jobs/{plan['job_id']}").json()
    assert job["status"] == "done" and job["plan_id"] == plan["plan_id"]
    assert client.get(f"/v1/scenarios/{job['scenario_id']}").json()["name"] == "tiny"


def test_the_same_input_is_answered_from_the_store_unless_asked_fresh(
    client: TestClient, tiny: dict
) -> None:
    first = client.post("/v1/plans", json=tiny).json()
    again = client.post("/v1/plans", json=tiny)
    assert again.headers.get("x-territory-reused") == "true"
    assert again.json()["plan_id"] == first["plan_id"]
    fresh = client.post("/v1/plans", json=tiny, params={"reuse": "false"})
    assert "x-territory-reused" not in fresh.headers
    assert fresh.json()["plan_id"] != first["plan_id"]
    # Deterministic: solving again gives the same plan.
    assert fresh.json()["assignments"] == first["assignments"]


def test_the_server_caps_the_time_limit_of_synchronous_plans(
    client: TestClient, tiny: dict
) -> None:
    plan = client.post("/v1/plans", json=tiny, params={"time_limit_s": 5000}).json()
    assert plan["solver"]["time_limit_s"] == 10  # the server's synchronous ceiling
    assert plan["solver"]["threads"] >= 1


def test_an_infeasible_scenario_is_a_plan_with_a_diagnosis(client: TestClient, tiny: dict) -> None:
    data = copy.deepcopy(tiny)
    data["constraints"]["max_accounts_per_csm"] = 1  # 6 accounts, 3 CSMs
    response = client.post("/v1/plans", json=data)
    assert response.status_code == 200
    plan = response.json()
    assert plan["status"] == "infeasible"
    assert plan["assignments"] == []
    assert "account" in json.dumps(plan["diagnosis"]).lower()


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d["accounts"][1].update(arr=-5), "accounts[A2].arr", "greater than"),
        (lambda d: d["accounts"][2].update(current_csm="C9"), "accounts[A3].current_csm", "C9"),
        (lambda d: d["csms"][0].update(retention_rate="high"), "csms[C1].retention_rate", ""),
        (lambda d: d.update(accounts="accounts.csv"), "accounts", "inline"),
        # A1 is locked to C1: a pin to C2 breaks the lock (found with the rules, before solving).
        (
            lambda d: d["constraints"].update(
                overrides=[{"account": "A1", "pin": "C2", "reason": "asked"}]
            ),
            "constraints.overrides[0].pin",
            "lock",
        ),
        (
            lambda d: d["constraints"].update(
                overrides=[{"account": "A9", "pin": "C2", "reason": "asked"}]
            ),
            "constraints.overrides[0].account",
            "A9",
        ),
    ],
)
def test_invalid_scenarios_are_422_naming_the_record_and_field(
    client: TestClient, tiny: dict, change: Any, path: str, words: str
) -> None:
    data = copy.deepcopy(tiny)
    change(data)
    response = client.post("/v1/plans", json=data)
    assert response.status_code == 422
    issues = response.json()["issues"]
    assert any(i["path"] == path and words in i["message"] for i in issues), issues


@pytest.mark.parametrize(
    ("body", "words"),
    [(b"{not json", "not valid JSON"), (b"", "no body"), (b"[1, 2]", "JSON object")],
)
def test_malformed_bodies_are_422(client: TestClient, body: bytes, words: str) -> None:
    response = client.post("/v1/plans", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert words in json.dumps(response.json())


def test_query_parameters_are_checked(client: TestClient, tiny: dict) -> None:
    response = client.post("/v1/plans", json=tiny, params={"backend": "gurobi"})
    assert response.status_code == 422
    assert response.json()["issues"][0]["path"] == "query.backend"
    assert client.post("/v1/plans", json=tiny, params={"time_limit_s": -1}).status_code == 422


def test_unknown_ids_are_404(client: TestClient) -> None:
    for path in ("/v1/jobs/nope", "/v1/plans/nope", "/v1/plans/nope/assignments.csv"):
        response = client.get(path)
        assert response.status_code == 404
        assert "nope" in response.json()["detail"]
    assert client.delete("/v1/jobs/nope").status_code == 404
    assert client.post("/v1/jobs/nope/retry").status_code == 404
    assert client.get("/v1/scenarios/nope").status_code == 404


def test_csv_export_defuses_spreadsheet_formulas(client: TestClient, tiny: dict) -> None:
    data = copy.deepcopy(tiny)
    data["accounts"][0]["name"] = '=HYPERLINK("http://evil.example","click")'
    data["csms"][0]["name"] = "@SUM(A1:A9)"
    plan = client.post("/v1/plans", json=data).json()
    response = client.get(f"/v1/plans/{plan['plan_id']}/assignments.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 6
    a1 = next(r for r in rows if r["account_id"] == "A1")
    assert a1["account_name"].startswith("'=HYPERLINK")
    assert a1["csm_name"] == "'@SUM(A1:A9)"
    moves = client.get(
        f"/v1/plans/{plan['plan_id']}/assignments.csv", params={"moves_only": "true"}
    )
    moved = list(csv.DictReader(io.StringIO(moves.text)))
    assert {r["account_id"] for r in moved} == {
        r["account_id"] for r in plan["assignments"] if r["moved"]
    }


# Jobs -----------------------------------------------------------------------------------
def test_a_job_reports_progress_and_cancelling_keeps_its_best_plan(
    client: TestClient, example: dict
) -> None:
    response = client.post("/v1/jobs", json=example, params={"time_limit_s": 120})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running")
    # Running: the live incumbent, bound and gap (HiGHS needs ~20 s to prove this one).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job['id']}").json()
        progress = job["progress"] or {}
        if job["status"] == "running" and progress.get("gap") is not None:
            break
        time.sleep(0.2)
    assert job["status"] == "running"
    assert progress["bound"] <= progress["incumbent"]
    cancelled = client.delete(f"/v1/jobs/{job['id']}")
    assert cancelled.status_code == 200
    job = cancelled.json()
    assert job["status"] == "cancelled"
    plan = job["plan"]
    assert plan["status"] == "feasible"
    assert plan["message"].startswith("Cancelled: the best plan found so far")
    assert plan["violations"] == []
    assert plan["gap"] is not None and plan["bound"] <= plan["objective"]["total"] + 1e-12
    # The plan scores what the engine's evaluator says for its assignment.
    scored = client.post(
        "/v1/evaluate", json={"scenario": example, "assignments": plan["assignments"]}
    ).json()
    assert scored["objective"]["total"] == pytest.approx(plan["objective"]["total"])
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 409
    retried = client.post(f"/v1/jobs/{job['id']}/retry")
    assert retried.status_code == 202 and retried.json()["retry_of"] == job["id"]
    client.delete(f"/v1/jobs/{retried.json()['id']}")


def test_a_finished_job_carries_its_plan_and_is_listed(client: TestClient, tiny: dict) -> None:
    job = client.post("/v1/jobs", json=tiny, params={"time_limit_s": 10}).json()
    done = wait_for(client, job["id"], ("done", "failed"))
    assert done["status"] == "done"
    assert done["plan"]["status"] == "optimal"
    assert done["links"]["plan"] == f"/v1/plans/{done['plan_id']}"
    listed = client.get("/v1/jobs", params={"status": "done"}).json()
    assert job["id"] in [j["id"] for j in listed]
    assert client.post(f"/v1/jobs/{job['id']}/retry").status_code == 409  # done: nothing to retry


def test_jobs_beyond_the_workers_wait_in_the_queue(tmp_path: Path, example: dict) -> None:
    with app_with(tmp_path, max_queued=1) as c:  # one solver process, one job may wait
        first = c.post("/v1/jobs", json=example, params={"time_limit_s": 60}).json()
        wait_for(c, first["id"], ("running",))
        second = c.post("/v1/jobs", json=example, params={"time_limit_s": 60}).json()
        assert c.get(f"/v1/jobs/{second['id']}").json()["status"] == "queued"
        assert c.post("/v1/jobs", json=example, params={"time_limit_s": 59}).status_code == 503
        cancelled = c.delete(f"/v1/jobs/{second['id']}").json()
        assert cancelled["status"] == "cancelled" and cancelled["plan"] is None
        assert "before it started" in cancelled["error"]
        # The cancelled job no longer holds its place in the queue.
        third = c.post("/v1/jobs", json=example, params={"time_limit_s": 58})
        assert third.status_code == 202
        c.delete(f"/v1/jobs/{third.json()['id']}")
        c.delete(f"/v1/jobs/{first['id']}")


def test_a_full_queue_answers_503(tmp_path: Path, tiny: dict) -> None:
    with app_with(tmp_path, max_queued=0) as c:
        response = c.post("/v1/jobs", json=tiny)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"


# Limits and safety ----------------------------------------------------------------------
def test_size_limits_answer_413(tmp_path: Path, tiny: dict) -> None:
    with app_with(tmp_path, max_accounts=5, max_request_bytes=5_000) as c:
        response = c.post("/v1/plans", json=tiny)  # 6 accounts
        assert response.status_code == 413
        assert "accounts" in response.json()["detail"] and "5" in response.json()["detail"]
        big = copy.deepcopy(tiny)
        big["description"] = "x" * 10_000
        assert c.post("/v1/plans", json=big).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            text = json.dumps(big).encode()
            for i in range(0, len(text), 1000):
                yield text[i : i + 1000]

        response = c.post(
            "/v1/plans", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413


def test_an_api_key_guards_v1_but_not_health(tmp_path: Path, tiny: dict) -> None:
    with app_with(tmp_path, api_key="s3cret") as c:
        assert c.get("/health").status_code == 200
        assert c.post("/v1/plans", json=tiny).status_code == 401
        assert c.get("/v1/jobs", headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.get("/v1/jobs", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/v1/jobs", headers={"Authorization": "Bearer s3cret"}).status_code == 200


# Evaluate, compare, sensitivity ---------------------------------------------------------
def test_evaluate_names_the_rules_a_plan_breaks(client: TestClient, tiny: dict) -> None:
    current = {a["id"]: a.get("current_csm") for a in tiny["accounts"]}
    moved = {**current, "A1": "C2", "A6": "C3"}  # A1 is locked with C1
    response = client.post("/v1/evaluate", json={"scenario": tiny, "assignment": moved})
    assert response.status_code == 200
    scored = response.json()
    assert scored["feasible"] is False
    assert any(v["subject"] == "A1" for v in scored["violations"]), scored["violations"]
    assert scored["kpis"]["after"]["moves"] == 1
    unknown = client.post(
        "/v1/evaluate", json={"scenario": tiny, "assignment": {**moved, "A99": "C1"}}
    )
    assert unknown.status_code == 422
    assert unknown.json()["issues"][0]["path"] == "plan.assignments[A99]"
    assert client.post("/v1/evaluate", json={"scenario": tiny}).status_code == 422


def test_only_a_json_body_is_read(client: TestClient, tiny: dict) -> None:
    # A form or text/plain body is what any web page may send without a CORS preflight: 415.
    current = {a["id"]: a.get("current_csm") for a in tiny["accounts"]}
    body = json.dumps({"scenario": tiny, "assignment": current})
    for declared in ("application/x-www-form-urlencoded", "text/plain", None):
        headers = {} if declared is None else {"content-type": declared}
        response = client.post("/v1/evaluate", content=body, headers=headers)
        assert response.status_code == 415, (declared, response.text)
        assert "application/json" in response.json()["detail"]
    for declared in ("application/json; charset=utf-8", "application/vnd.territory+json"):
        response = client.post("/v1/evaluate", content=body, headers={"content-type": declared})
        assert response.status_code == 200, (declared, response.text)
        assert response.json()["kpis"]["after"]["moves"] == 0
    # A request without a body needs no type.
    assert client.post("/v1/jobs/nope/retry").status_code == 404


def test_move_budgets_are_whole_numbers(client: TestClient, tiny: dict) -> None:
    body = {"scenario": tiny, "weight_factors": [], "tolerance_steps": [], "prices": False}
    whole = client.post(
        "/v1/sensitivity", json={**body, "move_budgets": [2.0]}, params={"wait_s": 0}
    )
    assert whole.status_code == 202, whole.text
    for wrong in (2.5, "2", True):
        bad = client.post("/v1/sensitivity", json={**body, "move_budgets": [wrong]})
        assert bad.status_code == 422, (wrong, bad.text)
        assert "move_budgets" in bad.json()["detail"]


def test_segment_reports_segments_capacity_and_pool(client: TestClient, tiny: dict) -> None:
    response = client.post("/v1/segment", json=tiny)
    assert response.status_code == 200
    report = response.json()
    assert {a["account_id"] for a in report["accounts"]} == {a["id"] for a in tiny["accounts"]}
    assert report["scheme"] == "segments"
    first = report["accounts"][0]
    assert sum(f["contribution"] for f in first["need"]["factors"]) == pytest.approx(
        first["need"]["score"]
    )
    pooled = {a["account_id"] for a in report["accounts"] if a["recommended"] == "Inbound"}
    assert set(report["routing"]["pooled"]) == pooled
    assert report["routing"]["named_accounts"] == len(tiny["accounts"]) - len(pooled)
    bad = client.post(
        "/v1/segment", json={**tiny, "accounts": [{**tiny["accounts"][0], "coverage": "Gold"}]}
    )
    assert bad.status_code == 422
    assert bad.json()["issues"][0]["path"] == f"accounts[{tiny['accounts'][0]['id']}].coverage"


def test_compare_solves_the_variants_side_by_side(client: TestClient, tiny: dict) -> None:
    body = {
        "scenario": tiny,
        "variants": [{"name": "no moves", "constraints": {"max_moves": 0}}],
        "time_limit_s": 10,
    }
    response = client.post("/v1/compare", json=body)
    assert response.status_code == 200
    result = response.json()["result"]
    names = [s["name"] for s in result["scenarios"]]
    assert names == ["tiny", "no moves"]
    frozen = result["plans"][1]
    assert sum(r["moved"] for r in frozen["assignments"]) == 0
    base = Scenario.from_dict(tiny)
    assert result["plans"][0]["objective"]["total"] == pytest.approx(solve(base).objective)
    bad = client.post("/v1/compare", json={"scenario": tiny, "variants": [{"remove_csms": ["C9"]}]})
    assert bad.status_code == 422
    assert "C9" in json.dumps(bad.json())


def test_sensitivity_answers_now_or_as_a_job(client: TestClient, tiny: dict) -> None:
    body = {
        "scenario": tiny,
        "weight_factors": [0.5],
        "tolerance_steps": [0.05],
        "move_budgets": [0, None],
        "prices": False,
        "time_limit_s": 5,
    }
    later = client.post("/v1/sensitivity", json=body, params={"wait_s": 0})
    assert later.status_code == 202
    done = wait_for(client, later.json()["id"], ("done", "failed"), timeout=120)
    assert done["status"] == "done"
    result = done["result"]
    direct = solve(Scenario.from_dict(tiny))
    assert result["base"]["objective"] == pytest.approx(direct.objective), result["base"]
    budgets = {run["value"]: run for run in result["frontier"]}
    # No moves at all cannot fix C1's book (133% of target, tolerance 20%); any budget can.
    assert budgets[0]["status"] == "infeasible"
    assert budgets[None]["status"] == "optimal"
    assert budgets[None]["objective"] == pytest.approx(direct.objective)
    assert len(result["weights"]) == 4  # one factor for each of the four weighted terms
    bad = client.post("/v1/sensitivity", json={**body, "weight_factors": "lots"})
    assert bad.status_code == 422 and "weight_factors" in bad.json()["detail"]


def test_identical_requests_arriving_together_share_one_solve(
    tmp_path: Path, example: dict
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with app_with(tmp_path) as c:
        c.get("/health")

        def ask(_: int) -> dict[str, Any]:
            answer: dict[str, Any] = c.post(
                "/v1/plans", json=example, params={"time_limit_s": 2}
            ).json()
            return answer

        with ThreadPoolExecutor(4) as pool:
            plans = list(pool.map(ask, range(4)))
        assert len({p["plan_id"] for p in plans}) == 1
        assert len(c.get("/v1/jobs").json()) == 1  # one solve for the four requests


def test_an_empty_api_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="set but empty"):
        Settings.from_env({"TERRITORY_API_KEY": "  "})
    assert Settings.from_env({}).api_key is None


def test_the_serve_command_refuses_an_empty_key_and_says_what_it_runs_with(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main
    from cli.commands.serve import startup_line

    monkeypatch.setenv("TERRITORY_API_KEY", "")
    assert main(["serve"]) == 2
    assert "set but empty" in capsys.readouterr().err
    line = startup_line("127.0.0.1", 8000, Settings(api_key="k", cors_origins="https://a.test"))
    assert "authentication on" in line and "CORS origins https://a.test" in line
    assert "authentication off" in startup_line("127.0.0.1", 8000, Settings())


def test_cors_is_off_unless_origins_are_set(tmp_path: Path, tiny: dict) -> None:
    preflight = {
        "Origin": "https://ops.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }
    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    with app_with(tmp_path / "off") as c:
        answer = c.options("/v1/evaluate", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    with app_with(tmp_path / "on", cors_origins="https://ops.example.com", api_key="k") as c:
        answer = c.options("/v1/evaluate", headers=preflight)
        assert answer.status_code == 200  # before the key is asked for
        assert answer.headers["access-control-allow-origin"] == "https://ops.example.com"
        other = c.options("/v1/evaluate", headers={**preflight, "Origin": "https://evil.test"})
        assert other.headers.get("access-control-allow-origin") is None


def test_the_contract_says_what_the_server_takes(client: TestClient, tiny: dict) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Scenario"]
    assert schema["properties"]["accounts"]["minItems"] == 1
    assert schema["properties"]["csms"]["minItems"] == 1
    empty = {**tiny, "accounts": []}
    assert (
        client.post("/v1/evaluate", json={"scenario": empty, "assignment": {}}).status_code == 422
    )
    for value in ("0", "2026-02-30", "soon"):
        answer = client.get("/v1/plans/nope/owner_updates.csv", params={"effective_date": value})
        assert answer.status_code == 422, value
    for value in ("5e-324", "0"):
        answer = client.post("/v1/jobs", json=tiny, params={"time_limit_s": value})
        assert answer.status_code == 422, value
    params = client.get("/openapi.json").json()["paths"]["/v1/jobs"]["post"]["parameters"]
    (limit,) = [p for p in params if p["name"] == "time_limit_s"]
    assert limit["schema"]["anyOf"][0]["minimum"] == 0.01
