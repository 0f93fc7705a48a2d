"""The web page at ``/``, end to end: ``territory serve`` in its own process, driven by a real
headless Chromium (Playwright with the system's browser, no download).

The page loads a scenario (one JSON file, or a scenario JSON with its two CSV files), runs it as
a job, shows its progress and then the plan: the HTML report (moves table, SVG charts) in a frame
and the download links. Every request to a host other than the server is refused, so the page
must need nothing from the internet. Screenshots go to ``test-artifacts/`` (or
``$TERRITORY_ARTIFACTS``).

Without Chromium (``apt-get install chromium``, as ``.ci/chromium.sh`` does) or Playwright the
browser tests are skipped, unless ``TERRITORY_REQUIRE_BROWSER=1`` (``.ci/run`` sets it): then
they fail. ``TERRITORY_CHROMIUM`` names another Chromium or Chrome binary.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
from conftest import ROOT

httpx = pytest.importorskip("httpx")

from test_api_server import Server, inline, launch  # noqa: E402

TINY = ROOT / "examples" / "tiny" / "scenario.json"
SEED = ROOT / "examples" / "seed_150x8"
ARTIFACTS = Path(os.environ.get("TERRITORY_ARTIFACTS") or ROOT / "test-artifacts")
REQUIRE_BROWSER = os.environ.get("TERRITORY_REQUIRE_BROWSER") == "1"
API_KEY = "page-test-key"
#: Generous: the solve itself takes at most the time limit, but CI machines can be slow.
PLAN_TIMEOUT_MS = 90_000
#: Rows of the report's moves table (header rows, made of <th> only, left out).
MOVE_ROWS = "#moves tbody tr:has(td)"
#: The report's moves table, however its attributes are quoted.
MOVES_TABLE = re.compile(r"<table[^>]*\bid=[\"']?moves\b")


# The server -----------------------------------------------------------------------------------
def start_server(folder: Path, **extra_env: str) -> Server:
    """``territory serve`` on a free loopback port with a SQLite store in ``folder``."""
    server = launch(
        folder / "server.log",
        TERRITORY_DATABASE_URL=f"sqlite:///{folder / 'api.db'}",
        TERRITORY_WORKERS="2",
        **extra_env,
    )
    try:
        server.wait_ready()
    except BaseException:
        server.cleanup()
        raise
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("web"))
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("web-key"), TERRITORY_API_KEY=API_KEY)
    server.client.headers["X-API-Key"] = API_KEY
    try:
        yield server
    finally:
        server.cleanup()


# The routes the page uses, over HTTP (no browser needed) ----------------------------------------
def test_the_page_and_its_assets_are_served(server: Server, keyed_server: Server) -> None:
    for url in (server.url, keyed_server.url):  # no API key needed for the page itself
        page = httpx.get(f"{url}/", timeout=30)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert {"/static/app.js", "/static/app.css"} <= set(assets)
        for asset in assets:
            assert httpx.get(f"{url}{asset}", timeout=30).status_code == 200, asset
        # Nothing is loaded from another host.
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)
    assert httpx.get(f"{keyed_server.url}/v1/jobs", timeout=30).status_code == 401
    assert httpx.get(f"{server.url}/static/nope.js", timeout=30).status_code == 404


def test_scenarios_import_reads_csv_text_as_the_cli_reads_files(server: Server) -> None:
    scenario = json.loads((SEED / "scenario.json").read_text(encoding="utf-8"))
    accounts = (SEED / "accounts.csv").read_text(encoding="utf-8")
    csms = (SEED / "csms.csv").read_text(encoding="utf-8")
    response = server.client.post(
        "/v1/scenarios/import",
        json={"scenario": scenario, "accounts_csv": accounts, "csms_csv": csms},
    )
    assert response.status_code == 200, response.text
    imported = response.json()
    expected = inline(SEED / "scenario.json")
    assert [a["id"] for a in imported["accounts"]] == [a["id"] for a in expected["accounts"]]
    assert [c["id"] for c in imported["csms"]] == [c["id"] for c in expected["csms"]]
    first = imported["accounts"][0]
    assert first["arr"] == expected["accounts"][0]["arr"] and first["locked"] is False
    assert imported["csms"][0]["skills"] == expected["csms"][0]["skills"]  # ';' lists split
    # The result is a scenario the API takes as it is.
    evaluated = server.client.post("/v1/evaluate", json={"scenario": imported, "assignment": {}})
    assert evaluated.status_code == 200, evaluated.text

    # Every problem at once, named by record and field (or file and line).
    header, row, rest = accounts.split("\n", 2)
    bad_row = row.replace(row.split(",")[2], "lots", 1) + ",extra,cells"
    response = server.client.post(
        "/v1/scenarios/import",
        json={
            "scenario": scenario,
            "accounts_csv": f"{header}\n{bad_row}\n{rest}",
            "csms_csv": csms,
        },
    )
    assert response.status_code == 422, response.text
    paths = {issue["path"] for issue in response.json()["issues"]}
    assert {"accounts.csv:2", f"accounts[{row.split(',')[0]}].arr"} <= paths, paths

    # A CSV file the scenario names but the request lacks.
    response = server.client.post(
        "/v1/scenarios/import", json={"scenario": scenario, "accounts_csv": accounts}
    )
    assert response.status_code == 422
    assert [i["path"] for i in response.json()["issues"]] == ["csms"]
    invalid: list[Any] = [{"accounts_csv": accounts}, {"scenario": scenario, "csms_csv": 3}, []]
    for body in invalid:
        assert server.client.post("/v1/scenarios/import", json=body).status_code == 422


def test_the_report_and_the_exports(server: Server) -> None:
    response = server.client.post("/v1/plans", json=inline(TINY))
    assert response.status_code == 200, response.text
    plan = response.json()
    plan_id = plan["plan_id"]
    moved = {a["account_id"] for a in plan["assignments"] if a["moved"]}
    report = server.client.get(f"/v1/plans/{plan_id}/report.html")
    assert report.status_code == 200, report.text
    assert report.headers["content-type"].startswith("text/html")
    assert report.headers["content-disposition"].startswith("inline")
    assert MOVES_TABLE.search(report.text) and "<svg" in report.text
    saved = server.client.get(f"/v1/plans/{plan_id}/report.html", params={"download": 1})
    assert saved.status_code == 200
    assert saved.headers["content-disposition"] == (
        f'attachment; filename="territory-report-{plan_id}.html"'
    )
    assert server.client.get("/v1/plans/nope/report.html").status_code == 404

    def table(path: str, **params: str) -> list[dict[str, str]]:
        response = server.client.get(f"/v1/plans/{plan_id}/{path}", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        name = path.removesuffix(".csv")
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{name}-{plan_id}.csv"'
        )
        return list(csv.DictReader(io.StringIO(response.text)))

    updates = table("owner_updates.csv")
    assert {row["account_id"] for row in updates} == moved
    assert all(row["effective_date"] for row in updates)
    assert len(table("owner_updates.csv", effective_date="2026-04-01")) == len(moved)
    books = table("books.csv")
    assert {row["account_id"] for row in books} == {a["account_id"] for a in plan["assignments"]}
    bad_date = server.client.get(
        f"/v1/plans/{plan_id}/owner_updates.csv", params={"effective_date": "soon"}
    )
    assert bad_date.status_code == 422
    for path in ("owner_updates.csv", "books.csv"):
        assert server.client.get(f"/v1/plans/nope/{path}").status_code == 404

    # An infeasible plan has no assignments to export: 409 with the reason.
    infeasible = inline(TINY)
    infeasible["constraints"]["max_accounts_per_csm"] = 1
    response = server.client.post("/v1/plans", json=infeasible)
    assert response.status_code == 200 and response.json()["status"] == "infeasible"
    for path in ("owner_updates.csv", "books.csv"):
        refused = server.client.get(f"/v1/plans/{response.json()['plan_id']}/{path}")
        assert refused.status_code == 409, refused.text
        assert "no assignments" in refused.json()["detail"]


# The browser -------------------------------------------------------------------------------------
def chromium_path() -> str | None:
    """The system's Chromium (Debian's ``chromium`` package), or ``$TERRITORY_CHROMIUM``."""
    given = os.environ.get("TERRITORY_CHROMIUM")
    if given and not (os.path.isfile(given) and os.access(given, os.X_OK)):
        unavailable(f"TERRITORY_CHROMIUM={given} is not an executable file")
    for candidate in (
        given,
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def unavailable(reason: str) -> NoReturn:
    if REQUIRE_BROWSER:
        pytest.fail(f"TERRITORY_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    if path is None:
        unavailable("no Chromium found (apt-get install chromium; .ci/chromium.sh does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``open_page(server, path="/")``: a fresh browser tab on the server's page, offline but
    for it."""
    contexts: list[Any] = []
    refused: list[str] = []
    crashes: list[str] = []
    name = re.sub(r"\W+", "-", request.node.name).strip("-")

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # no CDN, no external font: the page must work without internet access
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    def open_(server: Server, path: str = "/") -> Any:
        context = browser.new_context(
            base_url=server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(20_000)
        context.route("**/*", guard)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: crashes.append(str(error)))
        page.goto(path)
        return page

    try:
        yield open_
    finally:
        for i, context in enumerate(contexts):
            for page in context.pages:  # the last state, kept for a failure's post-mortem
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=ARTIFACTS / f"{name}-{i}-end.png", full_page=True)
            context.close()
    assert not refused, f"the page asked for other hosts: {refused}"
    assert not crashes, f"uncaught errors in the page: {crashes}"


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def wait_for_plan(page: Any, server: Server) -> dict[str, Any]:
    """Wait until the page shows a plan; that plan, as the API serves it."""
    from playwright.sync_api import expect

    expect(page.locator("#result")).to_be_visible(timeout=PLAN_TIMEOUT_MS)
    plan_id = page.locator("#result").get_attribute("data-plan-id")
    assert plan_id, "the page shows a plan without its id"
    response = server.client.get(f"/v1/plans/{plan_id}")
    assert response.status_code == 200, response.text
    plan: dict[str, Any] = response.json()
    expect(page.locator("#plan-status")).to_have_text(plan["status"])
    expect(page.locator("#errors")).to_be_hidden()
    return plan


def check_review(page: Any, plan: dict[str, Any]) -> None:
    """The report in the frame: a moves-table row per moved account (and per new account placed:
    the report lists those too), and the charts."""
    from playwright.sync_api import expect

    moved = [a["account_id"] for a in plan["assignments"] if a["moved"]]
    placed = [a["account_id"] for a in plan["assignments"] if a["previous_csm_id"] is None]
    assert moved, "the example should move accounts"
    report = page.frame_locator("#report")
    rows = report.locator(MOVE_ROWS)
    expect(rows).to_have_count(len(moved) + len(placed), timeout=30_000)
    expect(report.locator("#moves")).to_contain_text(moved[0])
    expect(report.locator("#moves")).to_contain_text(moved[-1])
    expect(report.locator("svg.chart").first).to_be_visible()
    summary = page.locator("#plan-summary")
    expect(summary).to_contain_text(f"Accounts moved{len(moved)}")


def test_a_json_scenario_runs_and_its_plan_is_reviewed(
    server: Server, open_page: Callable[..., Any]
) -> None:
    from playwright.sync_api import expect

    page = open_page(server)
    expect(page.locator("h1")).to_have_text("Territory assignment")
    page.set_input_files("#scenario-file", TINY)
    expect(page.locator("#scenario-summary")).to_contain_text("3 CSMs, 6 accounts")
    page.click("#run")
    expect(page.locator("#job")).to_be_visible()
    plan = wait_for_plan(page, server)
    assert plan["status"] == "optimal"
    check_review(page, plan)
    expect(page.locator("#job-status")).to_have_text("done")
    expect(page.locator("#jobs tbody tr").first).to_contain_text(plan["job_id"][:8])
    screenshot(page, "web-tiny-plan")

    # The downloads: real links to the API (for "copy link") that the page fetches on click.
    href = page.get_attribute("#download-report", "href")
    assert href == f"/v1/plans/{plan['plan_id']}/report.html?download=1"
    report = server.client.get(href)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert MOVES_TABLE.search(report.text)
    with page.expect_download() as saved:
        page.click("#download-report")
    assert saved.value.suggested_filename == f"territory-report-{plan['plan_id']}.html"
    assert MOVES_TABLE.search(Path(saved.value.path()).read_text(encoding="utf-8"))
    with page.expect_download() as saved:
        page.click("#download-assignments")
    assert saved.value.suggested_filename == f"assignments-{plan['plan_id']}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(saved.value.path()).read_text(encoding="utf-8"))))
    assert {r["account_id"] for r in rows} == {a["account_id"] for a in plan["assignments"]}
    with page.expect_download() as saved:
        page.click("#download-owner-updates")
    rows = list(csv.DictReader(io.StringIO(Path(saved.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == sum(a["moved"] for a in plan["assignments"])

    # A reload comes back to the same job and plan (the job is in the address).
    page.reload()
    assert wait_for_plan(page, server)["plan_id"] == plan["plan_id"]


def test_a_scenario_with_csv_files_runs_with_a_time_limit(
    server: Server, open_page: Callable[..., Any]
) -> None:
    from playwright.sync_api import expect

    page = open_page(server)
    page.check("#mode-csv")
    page.set_input_files("#scenario-file", SEED / "scenario.json")
    expect(page.locator("#scenario-summary")).to_contain_text("CSMs from csms.csv")
    page.set_input_files("#accounts-file", SEED / "accounts.csv")
    page.set_input_files("#csms-file", SEED / "csms.csv")
    page.fill("#time-limit", "5")
    page.click("#run")
    # Live progress while it solves (the example takes longer than 5 s to prove optimal).
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    expect(page.locator("#cancel")).to_be_visible()
    expect(page.locator("#progress-elapsed")).to_have_text(re.compile(r"\d s of 5 s"))
    screenshot(page, "web-seed-csv-running")
    plan = wait_for_plan(page, server)
    assert plan["solver"]["time_limit_s"] == 5
    assert plan["status"] in ("optimal", "feasible"), plan["message"]
    assert len(plan["assignments"]) == 150
    check_review(page, plan)
    expect(page.locator("#cancel")).to_be_hidden()
    screenshot(page, "web-seed-csv-plan")


def test_a_running_solve_can_be_cancelled(
    server: Server, open_page: Callable[..., Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    scenario = tmp_path / "seed_150x8.json"  # the CSV example as one JSON file
    scenario.write_text(json.dumps(inline(SEED / "scenario.json")), encoding="utf-8")
    page = open_page(server)
    page.set_input_files("#scenario-file", scenario)
    page.fill("#time-limit", "120")
    page.click("#run")
    # Cancel as soon as the solver has a plan (proving it optimal takes far longer).
    expect(page.locator("#progress-incumbent")).to_have_text(re.compile(r"\d"), timeout=60_000)
    expect(page.locator("#job-status")).to_have_text("running")
    screenshot(page, "web-cancel-running")
    page.click("#cancel")
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=60_000)
    plan = wait_for_plan(page, server)  # the best plan found so far is kept and shown
    assert plan["status"] == "feasible", plan["message"]
    assert server.client.get(f"/v1/jobs/{plan['job_id']}").json()["status"] == "cancelled"
    expect(page.locator("#job-note")).to_contain_text("best plan found so far")
    check_review(page, plan)


def test_invalid_input_shows_every_issue(
    server: Server, open_page: Callable[..., Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = open_page(server)
    issues = page.locator("#error-issues li")

    def run(scenario: bytes, **csv_files: bytes) -> None:
        page.set_input_files(
            "#scenario-file",
            files=[{"name": "scenario.json", "mimeType": "application/json", "buffer": scenario}],
        )
        for kind, content in csv_files.items():
            page.set_input_files(
                f"#{kind}-file",
                files=[{"name": f"{kind}.csv", "mimeType": "text/csv", "buffer": content}],
            )
        page.click("#run")
        expect(page.locator("#errors")).to_be_visible()

    # The API's 422: each issue with its path and message.
    bad = inline(TINY)
    bad["accounts"][0]["arr"] = -1
    bad["csms"][1]["retention_rate"] = 7
    run(json.dumps(bad).encode())
    expect(page.locator("#error-detail")).to_contain_text("422")
    expect(issues.filter(has_text="accounts[A1].arr")).to_have_count(1)
    expect(issues.filter(has_text="csms[C2].retention_rate")).to_have_count(1)
    expect(page.locator("#result")).to_be_hidden()
    screenshot(page, "web-invalid-json")

    # Not JSON at all: said so, with the file's name.
    run(b"{ not json")
    expect(issues.first).to_contain_text("scenario.json")
    expect(issues.first).to_contain_text("not valid JSON")

    # A scenario naming CSV files that were not chosen.
    scenario = (SEED / "scenario.json").read_bytes()
    page.check("#mode-json")
    run(scenario)
    expect(issues).to_have_count(2)
    expect(issues.first).to_contain_text("accounts.csv")

    # A bad CSV cell, named by account and field (read on the server, as the CLI reads files).
    accounts = (SEED / "accounts.csv").read_text(encoding="utf-8")
    accounts = accounts.replace(",128900.0,", ",lots,", 1)
    run(scenario, accounts=accounts.encode(), csms=(SEED / "csms.csv").read_bytes())
    expect(issues.filter(has_text="accounts[A001].arr")).to_have_count(1)
    screenshot(page, "web-invalid-csv")


def test_a_server_with_an_api_key(keyed_server: Server, open_page: Callable[..., Any]) -> None:
    from playwright.sync_api import expect

    page = open_page(keyed_server)
    # The page loads, sees the 401 and asks for the key.
    expect(page.locator("#key-panel")).to_have_attribute("open", "")
    expect(page.locator("#key-message")).to_contain_text("API key")
    page.fill("#api-key", API_KEY)
    page.click("#key-save")
    expect(page.locator("#jobs-empty")).to_have_text("No runs yet.")

    page.set_input_files("#scenario-file", TINY)
    page.click("#run")
    plan = wait_for_plan(page, keyed_server)
    check_review(page, plan)
    with page.expect_download() as saved:  # fetched with the key
        page.click("#download-moves")
    assert saved.value.suggested_filename == f"moves-{plan['plan_id']}.csv"
    moves = Path(saved.value.path()).read_text(encoding="utf-8").strip().splitlines()
    assert len(moves) == 1 + sum(a["moved"] for a in plan["assignments"])
    screenshot(page, "web-api-key")

    # A link to the job, opened in a new tab: refused until the key is given, then shown.
    other = open_page(keyed_server, f"/#job={plan['job_id']}")
    expect(other.locator("#errors")).to_contain_text("401")
    other.fill("#api-key", API_KEY)
    other.click("#key-save")
    assert wait_for_plan(other, keyed_server)["plan_id"] == plan["plan_id"]
    check_review(other, plan)
