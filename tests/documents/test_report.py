"""The HTML report: self-contained, escaped, and showing what the plan says."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from cli import main
from documents.report import render_html
from optimizer import Scenario, load_scenario, solve


class _Page(HTMLParser):
    """Collects tags, the rows of each table by id, and external references."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        for key in ("src", "href"):
            value = attributes.get(key) or ""
            if re.match(r"^(https?:)?//", value):
                self.external.append(value)
        if tag == "table":
            self._table = attributes.get("id") or ""
            self.rows.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.rows[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def seed_plan() -> dict[str, Any]:
    scenario = load_scenario(ROOT / "examples" / "seed_150x8" / "scenario.json")
    return solve(scenario, time_limit_s=3).to_dict()


def test_report_is_self_contained_and_shows_every_move(seed_plan: dict[str, Any]) -> None:
    text = render_html(seed_plan)
    page = _parse(text)
    assert "script" not in page.tags and page.external == []
    assert "link" not in page.tags  # no stylesheet to fetch
    moved = [a for a in seed_plan["assignments"] if a["moved"] or a["previous_csm_id"] is None]
    rows = page.rows["moves"][1:]  # without the header
    assert len(rows) == len(moved) == seed_plan["kpis"]["after"]["moves"]
    first = next(a for a in seed_plan["assignments"] if a["moved"])
    row = next(r for r in rows if first["account_id"] in r[0])
    assert row[2] == first["previous_csm_id"]
    assert first["reasons"][0] in row[4]
    assert first["runner_up"]["text"] in row[5]
    # Charts: ARR and workload against target, risk concentration.
    assert {"chart-arr", "chart-workload", "chart-risk"} <= set(
        re.findall(r'id="(chart-[a-z]+)"', text)
    )
    # The ARR chart's band is the plan's tolerance: 85 % to 115 %.
    assert "tolerance band 85% to 115%" in text
    # Impact rows with their assumptions, and the waves.
    assert len(page.rows["impact"]) == 1 + len(seed_plan["impact"])
    assert len(page.rows["waves"]) == 1 + seed_plan["transition"]["weeks"]
    assert sum(int(r[2]) for r in page.rows["waves"][1:]) == len(
        [m for m in seed_plan["transition"]["moves"] if m["wave"]]
    )


def test_report_escapes_names_and_draws_the_frontier() -> None:
    scenario = Scenario.from_dict(
        {
            "as_of": "2026-01-01",
            "csms": [{"id": "C1"}, {"id": "C2", "name": "<b>Bold</b>"}],
            "accounts": [
                {"id": "A1", "name": "<script>alert(1)</script>", "arr": 100, "current_csm": "C1"},
                {"id": "A2", "arr": 300, "current_csm": "C1"},
            ],
            "constraints": {"arr_tolerance": 0.5},
        }
    )
    plan = solve(scenario).to_dict()
    assert plan["kpis"]["after"]["moves"] == 1
    frontier = {"frontier": [{"value": 0, "objective": 0.5}, {"value": None, "objective": 0.25}]}
    text = render_html(plan, sensitivity=frontier, title="Q3 & beyond")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>Bold</b>" not in text
    assert "<title>Q3 &amp; beyond</title>" in text
    assert 'id="chart-frontier"' in text and "no limit" in text
    # With the gaps of territory sensitivity --json: each point's tooltip says its gap, and a
    # budget within the gap of the best says so.
    frontier = {
        "frontier": [
            {"value": 0, "objective": 0.5, "gap": 0.0},
            {
                "value": 5,
                "objective": 0.2501,
                "gap": 0.001,
                "behind_best": {"value": 0.0001, "uncertainty": 0.0003, "within_gap": True},
            },
            {"value": None, "objective": 0.25, "gap": 0.0008},
        ]
    }
    text = render_html(plan, sensitivity=frontier)
    assert "5: 0.2501, gap 0.100%, within the gap of the best</title>" in text
    assert "no limit: 0.2500, gap 0.080%</title>" in text


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_path = tmp_path / "plan.json"
    assert (
        main(
            [
                "solve",
                str(ROOT / "examples" / "tiny" / "scenario.json"),
                "--out",
                str(plan_path),
                "--quiet",
            ]
        )
        == 0
    )
    out = tmp_path / "r" / "report.html"
    assert main(["report", str(plan_path), "--out", str(out)]) == 0
    page = _parse(out.read_text())
    plan = json.loads(plan_path.read_text())
    assert len(page.rows["moves"]) - 1 == sum(
        1 for a in plan["assignments"] if a["moved"] or a["previous_csm_id"] is None
    )
    not_a_plan = tmp_path / "x.json"
    not_a_plan.write_text('{"csms": []}')
    assert main(["report", str(not_a_plan), "--out", str(out)]) == 2
    assert "is not a plan" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.json")]) == 2


def test_report_of_an_infeasible_plan_shows_the_diagnosis() -> None:
    scenario = Scenario.from_dict(
        {
            "csms": [{"id": "C1", "max_accounts": 0}],
            "accounts": [{"id": "A1", "arr": 1}],
        }
    )
    plan = solve(scenario).to_dict()
    assert plan["status"] == "infeasible"
    text = render_html(plan)
    assert "Why there is no plan" in text and "infeasible" in text
