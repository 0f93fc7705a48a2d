"""The job store on SQLite and PostgreSQL: nothing finished is lost, nothing running is dropped.

PostgreSQL runs when ``TERRITORY_TEST_POSTGRES_URL`` names a server (``.ci/run`` installs and
starts one); with ``TERRITORY_REQUIRE_POSTGRES=1`` a missing server fails the suite instead of
skipping these cases.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from fastapi.testclient import TestClient

from api import Settings, create_app
from api.store import Store, metadata
from optimizer.scenario import read_json, resolve_files

POSTGRES = os.environ.get("TERRITORY_TEST_POSTGRES_URL")


def _databases() -> list[Any]:
    postgres = pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not POSTGRES and os.environ.get("TERRITORY_REQUIRE_POSTGRES") != "1",
            reason="no PostgreSQL server (set TERRITORY_TEST_POSTGRES_URL; .ci/run does)",
        ),
    )
    return ["sqlite", postgres]


@pytest.fixture(params=_databases())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
        return
    if not POSTGRES:
        pytest.fail("TERRITORY_REQUIRE_POSTGRES=1 but TERRITORY_TEST_POSTGRES_URL is not set")
    store = Store(POSTGRES)  # a clean schema for every test
    metadata.drop_all(store.engine)
    store.close()
    yield POSTGRES


def tiny() -> dict[str, Any]:
    path = ROOT / "examples" / "tiny" / "scenario.json"
    data: dict[str, Any] = resolve_files(read_json(path), path.parent)
    return {**data, "as_of": str(data["as_of"])}


def test_jobs_and_plans_round_trip(url: str) -> None:
    store = Store(url)
    try:
        sid = store.put_scenario(tiny())
        assert store.put_scenario(tiny()) == sid  # stored once, by content
        assert store.scenario(sid)["name"] == "tiny"
        job = store.create_job("plan", sid, {"time_limit_s": 5.0})
        assert (job.status, job.kind) == ("queued", "plan")
        assert store.start(job.id) and not store.start(job.id)  # only a queued job starts
        store.set_progress(job.id, {"incumbent": 2.0, "bound": 1.0, "gap": 0.5})
        assert store.job(job.id).progress == {"incumbent": 2.0, "bound": 1.0, "gap": 0.5}
        plan = {"status": "optimal", "objective": {"total": 1.5}, "gap": 0.0, "assignments": []}
        assert store.finish(job.id, "done", plan=plan)
        assert not store.finish(job.id, "failed", error="late")  # the first end wins
        done = store.job(job.id)
        assert done.status == "done" and done.finished_at is not None
        saved = store.plan(done.plan_id)
        assert saved["objective"]["total"] == 1.5 and saved["job_id"] == job.id
        again = store.finished_like("plan", sid, {"time_limit_s": 5.0})
        assert again is not None and again.id == job.id
        assert store.finished_like("plan", sid, {"time_limit_s": 6.0}) is None
        assert [j.id for j in store.jobs("done")] == [job.id]
        assert done.to_dict()["created_at"].endswith("+00:00")
    finally:
        store.close()


def test_a_restart_fails_running_jobs_and_requeues_waiting_ones(url: str) -> None:
    store = Store(url)
    sid = store.put_scenario(tiny())
    running = store.create_job("plan", sid, {})
    store.start(running.id)
    waiting = store.create_job("plan", sid, {})
    store.close()

    store = Store(url)  # the server comes back
    try:
        assert store.recover_after_restart() == [waiting.id]
        failed = store.job(running.id)
        assert failed.status == "failed"
        assert f"/v1/jobs/{running.id}/retry" in failed.error
        assert store.job(waiting.id).status == "queued"
    finally:
        store.close()


def test_the_api_loses_no_finished_plan_across_restarts(url: str) -> None:
    settings = Settings(database_url=url, workers=1, sync_time_limit_s=10)
    with TestClient(create_app(settings)) as client:
        plan = client.post("/v1/plans", json=tiny()).json()
        assert plan["status"] == "optimal"
        stuck = client.app.state.store.create_job("plan", plan_scenario(client, plan), {})
        client.app.state.store.start(stuck.id)  # as if its process died with the server
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/v1/plans/{plan['plan_id']}").json() == plan
        job = client.get(f"/v1/jobs/{stuck.id}").json()
        assert job["status"] == "failed" and job["links"]["retry"].endswith("/retry")
        retried = client.post(f"/v1/jobs/{stuck.id}/retry").json()
        deadline = time.monotonic() + 60
        while client.get(f"/v1/jobs/{retried['id']}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        again = client.get(f"/v1/jobs/{retried['id']}").json()
        assert again["plan"]["objective"]["total"] == pytest.approx(plan["objective"]["total"])


def plan_scenario(client: TestClient, plan: dict[str, Any]) -> str:
    job = client.get(f"/v1/jobs/{plan['job_id']}").json()
    scenario_id: str = job["scenario_id"]
    return scenario_id
