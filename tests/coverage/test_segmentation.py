"""Coverage segmentation: scores, segments, misalignment, capacity, expansion, migrations,
communications and routing into the assignment engine. Expected numbers are worked out by
hand from the formulas in docs/segmentation.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from cli import main
from coverage import route, segment
from documents import TemplateProblem, communications
from documents.segmentation import tables
from optimizer import Scenario, ScenarioError, solve

AS_OF = "2026-01-01"

#: Two simple models, easy to count with: High (10 accounts per person) and Low (100).
TWO_MODELS = [
    {"name": "High", "min_score": 0.5, "accounts_per_csm": 10, "workload": 5, "cadence": "weekly"},
    {"name": "Low", "min_score": 0.0, "accounts_per_csm": 100, "workload": 1, "cadence": "monthly"},
]


def scenario(
    accounts: list[dict[str, Any]], csms: list[dict[str, Any]] | None = None, **seg: Any
) -> Scenario:
    return Scenario.from_dict(
        {
            "name": "seg",
            "as_of": AS_OF,
            "csms": csms or [{"id": "C1"}, {"id": "C2"}],
            "accounts": accounts,
            "segmentation": seg,
        }
    )


def factor(score: Any, dimension: str) -> Any:
    return next(f for f in score.factors if f.dimension == dimension)


# ------------------------------------------------------------------------------- scores


def test_value_score_is_the_weighted_sum_of_its_factors() -> None:
    s = scenario(
        [
            {"id": "A", "arr": 100},
            {"id": "B", "arr": 200, "strategic": 1.0},
            {"id": "C", "arr": 300},
        ],
        value_weights={"arr": 3, "strategic": 1},
    )
    report = segment(s)
    b = report.account("B").value
    # ARR rank of the middle of three accounts is 0.5; weights normalize to 0.75 / 0.25.
    assert factor(b, "arr").value == pytest.approx(0.5)
    assert factor(b, "arr").weight == pytest.approx(0.75)
    assert factor(b, "strategic").contribution == pytest.approx(0.25)
    assert b.score == pytest.approx(0.75 * 0.5 + 0.25 * 1.0)
    assert report.account("A").value.score == pytest.approx(0.0)  # lowest ARR, not strategic
    assert report.account("C").value.score == pytest.approx(0.75)
    for row in report.accounts:
        assert row.value.score == pytest.approx(sum(f.contribution for f in row.value.factors))


def test_tied_arr_shares_the_mid_rank() -> None:
    s = scenario(
        [{"id": f"A{i}", "arr": arr} for i, arr in enumerate([10, 20, 20, 30])],
        value_weights={"arr": 1},
    )
    report = segment(s)
    # Ranks 0, (1 + 2) / 2 / 3 = 0.5 for both ties, 1.
    assert [round(report.account(f"A{i}").value.score, 6) for i in range(4)] == [0, 0.5, 0.5, 1]


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        ("rank", [0.0, 0.5, 1.0]),
        ("minmax", [0.0, 90 / 990, 1.0]),
        ("log", [0.0, (math.log(101) - math.log(11)) / (math.log(1001) - math.log(11)), 1.0]),
    ],
)
def test_arr_scales(scale: str, expected: list[float]) -> None:
    s = scenario(
        [{"id": f"A{i}", "arr": arr} for i, arr in enumerate([10, 100, 1000])],
        value_weights={"arr": 1},
        arr_scale=scale,
    )
    report = segment(s)
    assert [report.account(f"A{i}").value.score for i in range(3)] == pytest.approx(expected)


def test_missing_signals_count_as_the_midpoint_except_flags_that_count_as_zero() -> None:
    s = scenario(
        [{"id": "A", "arr": 10}, {"id": "B", "arr": 20, "maturity": 1, "strategic": 0.6}],
        need_weights={"immaturity": 1},
        value_weights={"strategic": 1},
    )
    report = segment(s)
    a, b = report.account("A"), report.account("B")
    assert factor(a.need, "immaturity").missing and factor(a.need, "immaturity").value == 0.5
    assert not factor(b.need, "immaturity").missing and b.need.score == pytest.approx(1.0)
    assert factor(a.value, "strategic").value == 0.0 and factor(a.value, "strategic").missing
    assert b.value.score == pytest.approx(0.6)


def test_renewal_proximity_is_one_inside_the_window_and_falls_to_zero_at_a_year() -> None:
    dates = {
        "in30": "2026-01-31",
        "in200": "2026-07-20",
        "in365": "2027-01-01",
        "past": "2025-12-01",
    }
    s = scenario(
        [{"id": k, "arr": 1, "renewal_date": d} for k, d in dates.items()],
        value_weights={"renewal": 1},
    )
    report = segment(s)
    assert report.account("in30").value.score == 1.0
    assert report.account("past").value.score == 1.0
    assert report.account("in200").value.score == pytest.approx((365 - 200) / (365 - 90))
    assert report.account("in365").value.score == 0.0


def test_need_segments_ignore_arr_so_a_small_complex_account_outranks_a_large_simple_one() -> None:
    s = scenario(
        [
            # A self-sufficient $150K account in a commodity use case...
            {"id": "big", "arr": 150_000, "complexity": 1, "maturity": 5, "adoption": 0.9},
            # ...and a $40K account in a strategic vertical, complex, young and at risk.
            {
                "id": "small",
                "arr": 40_000,
                "complexity": 5,
                "maturity": 1,
                "adoption": 0.1,
                "churn_risk": "high",
                "strategic": 1.0,
                "potential_arr": 120_000,
            },
        ]
    )
    report = segment(s)
    assert report.account("big").segment == "Inbound"
    assert report.account("small").segment == "Task Force"
    # The need score reads no ARR: doubling the big account's ARR changes nothing.
    richer = scenario(
        [{**a.model_dump(mode="json"), "arr": a.arr * 2} for a in s.accounts],
    )
    assert segment(richer).account("big").need == report.account("big").need


# ---------------------------------------------------------------------- misalignment


def _two_model_scenario() -> Scenario:
    # need score = complexity factor only: complexity 5 -> 1.0 (High), 1 -> 0.0 (Low).
    accounts = [
        {
            "id": "U1",
            "arr": 100,
            "complexity": 5,
            "coverage": "Low",
            "current_csm": "C1",
            "churn_risk": 0.5,
        },
        {"id": "U2", "arr": 300, "complexity": 5, "coverage": "Low", "current_csm": "C1"},
        {"id": "O1", "arr": 200, "complexity": 1, "coverage": "High", "current_csm": "C2"},
        {"id": "K1", "arr": 400, "complexity": 1, "coverage": "Low", "current_csm": "C2"},
    ]
    return scenario(accounts, need_weights={"complexity": 1}, segments=TWO_MODELS)


def test_misalignment_counts_shares_fte_and_impact() -> None:
    report = segment(_two_model_scenario())
    m = report.misalignment
    assert (m.misaligned, m.under_served, m.over_served) == (3, 2, 1)
    assert m.share == pytest.approx(0.75)
    assert m.arr_share == pytest.approx(600 / 1000)
    assert m.under_served_arr == 400 and m.over_served_arr == 200
    # Each under-served account needs 1/10 - 1/100 more of a person; the over-served frees that.
    assert m.fte_needed == pytest.approx(2 * 0.09)
    assert m.fte_freed == pytest.approx(0.09)
    u1 = report.account("U1")
    # ARR at risk 100 x 0.5, headroom 100 x 0.1 (expansion "low"), one level up.
    assert u1.impact == pytest.approx(50 + 10)
    assert report.account("K1").alignment == "aligned" and report.account("K1").impact == 0
    # Over-served: freed FTE x ARR at stake per recommended FTE of the portfolio.
    at_stake = 50 + 300 * 0.05 + 200 * 0.05 + 400 * 0.05 + 0.1 * 1000
    per_fte = at_stake / (0.1 + 0.1 + 0.01 + 0.01)
    assert report.account("O1").impact == pytest.approx(0.09 * per_fte)
    assert m.top[0] == "O1"  # 0.09 x ~832 = ~75, above U1's 60


def test_coverage_defaults_to_the_least_named_model_or_the_pool() -> None:
    s = scenario(
        [{"id": "A", "arr": 1, "current_csm": "C1"}, {"id": "B", "arr": 1}],
    )
    report = segment(s)
    assert report.account("A").current == "Async" and not report.account("A").current_given
    assert report.account("B").current == "Inbound"


# ---------------------------------------------------------------------------- capacity


def _high_and_low_books() -> list[dict[str, Any]]:
    """Five accounts covered as High with CSM H, and 30 covered as Low that need High with CSM
    L: the low-touch CSM is 3x overloaded (recommended utilization 3.0; H's 0.5)."""
    return [
        {"id": f"H{i}", "arr": 10, "complexity": 5, "coverage": "High", "current_csm": "H"}
        for i in range(5)
    ] + [
        {"id": f"L{i}", "arr": 10, "complexity": 5, "coverage": "Low", "current_csm": "L"}
        for i in range(30)
    ]


def test_capacity_finds_the_overloaded_low_touch_csm_and_plans_moves_and_hires() -> None:
    accounts = _high_and_low_books()
    csms = [{"id": "H", "segments": ["High"]}, {"id": "L", "segments": ["Low"]}, {"id": "New"}]
    report = segment(scenario(accounts, csms, need_weights={"complexity": 1}, segments=TWO_MODELS))
    cap = report.capacity
    high, low = cap.models
    assert high.fte_needed == pytest.approx(3.5) and high.fte_staffed == pytest.approx(1.0)
    assert low.fte_needed == 0 and low.fte_staffed == pytest.approx(1.0)
    loads = {c.csm_id: c for c in cap.csms}
    assert loads["L"].utilization_current == pytest.approx(0.3)
    assert loads["L"].utilization_recommended == pytest.approx(3.0)
    assert loads["L"].state == "overloaded"
    assert loads["H"].utilization_recommended == pytest.approx(0.5) and loads["H"].state == "room"
    assert cap.unallocated_fte == pytest.approx(1.0)  # the new hire: empty book, no segments
    kinds = [(a.kind, a.from_model, a.to_model, round(a.fte, 6)) for a in cap.actions]
    # Shortfall 2.5: the unallocated 1.0 first, then 1.0 moved from Low, then hire 0.5.
    assert kinds == [
        ("move", None, "High", 1.0),
        ("move", "Low", "High", 1.0),
        ("hire", None, "High", 0.5),
    ]
    assert cap.fte_needed == pytest.approx(3.5) and cap.team_fte == pytest.approx(3.0)


def test_overload_and_idle_limits_are_settings() -> None:
    # H's recommended utilization is 0.5 (room by default, below 0.7); L's 3.0 (overloaded).
    accounts = _high_and_low_books()
    csms = [{"id": "H", "segments": ["High"]}, {"id": "L", "segments": ["Low"]}]

    def states(**limits: float) -> dict[str, str]:
        report = segment(
            scenario(accounts, csms, need_weights={"complexity": 1}, segments=TWO_MODELS, **limits)
        )
        return {c.csm_id: c.state for c in report.capacity.csms}

    assert states() == {"H": "room", "L": "overloaded"}
    assert states(idle_below=0.4) == {"H": "balanced", "L": "overloaded"}
    assert states(idle_below=0.4, overloaded_above=3.5) == {"H": "balanced", "L": "balanced"}
    with pytest.raises(ScenarioError) as caught:
        scenario(accounts, csms, segments=TWO_MODELS, idle_below=1.2)  # overloaded_above 1.1
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("segmentation.idle_below", "idle_below 1.2 is not below overloaded_above 1.1")
    ]


def test_unlisted_segments_split_capacity_by_todays_book() -> None:
    accounts = [
        {"id": "A", "arr": 1, "coverage": "High", "current_csm": "C1"},
        {"id": "B", "arr": 1, "coverage": "Low", "current_csm": "C1"},
    ]
    report = segment(scenario(accounts, need_weights={"complexity": 1}, segments=TWO_MODELS))
    staffed = {m.name: m.fte_staffed for m in report.capacity.models}
    # C1 spends 0.1 + 0.01 FTE today: 10/11 of it on High. C2 has an empty book.
    assert staffed["High"] == pytest.approx(10 / 11)
    assert staffed["Low"] == pytest.approx(1 / 11)
    assert report.capacity.unallocated_fte == pytest.approx(1.0)


# ---------------------------------------------------------------------------- expansion


def test_expansion_ranking_trigger_and_owner() -> None:
    s = scenario(
        [
            {"id": "seats", "arr": 50_000, "seat_utilization": 1.0, "potential_arr": 60_000},
            {"id": "big", "arr": 100_000, "potential_arr": 400_000},
            {"id": "mid", "arr": 100_000, "potential_arr": 160_000},
            {"id": "risky", "arr": 100_000, "potential_arr": 400_000, "churn_risk": "high"},
        ],
        expansion_weights={"expansion": 1, "seat_utilization": 1},
    )
    report = segment(s)
    rows = {e.account_id: e for e in report.expansion}
    # seats: (1/6 + 1) / 2; big and risky: (0.75 + 0.5) / 2; mid: (0.375 + 0.5) / 2.
    assert rows["seats"].score == pytest.approx((1 / 6 + 1) / 2)
    assert [e.account_id for e in report.expansion] == ["big", "risky", "seats", "mid"]
    assert [e.rank for e in report.expansion] == [1, 2, 3, 4]
    assert "seats" in rows["seats"].trigger and "100%" in rows["seats"].trigger
    assert "$300,000" in rows["big"].trigger
    assert rows["seats"].owner == "CS"  # $10K headroom
    assert rows["mid"].owner == "CS + Sales"  # $60K
    assert rows["big"].owner == "Sales"  # $300K
    assert rows["risky"].owner == "CS"  # at risk: stabilize first


# --------------------------------------------------------------------------- migrations


def test_migrations_flag_renewals_risk_and_locks_as_exceptions() -> None:
    accounts = [
        {
            "id": "up",
            "arr": 5,
            "complexity": 5,
            "coverage": "Low",
            "current_csm": "C1",
            "renewal_date": "2026-02-01",
        },
        {
            "id": "up2",
            "arr": 4,
            "complexity": 5,
            "coverage": "Low",
            "current_csm": "C1",
            "renewal_date": "2026-12-01",
        },
        {
            "id": "down",
            "arr": 3,
            "complexity": 1,
            "coverage": "High",
            "current_csm": "C2",
            "churn_risk": "high",
        },
        {"id": "same", "arr": 2, "complexity": 1, "coverage": "Low", "current_csm": "C2"},
    ]
    report = segment(scenario(accounts, need_weights={"complexity": 1}, segments=TWO_MODELS))
    moves = {m.account_id: m for m in report.migrations}
    assert set(moves) == {"up", "up2", "down"}
    assert moves["up"].direction == "up" and moves["up"].days_to_renewal == 31
    assert moves["up"].exception and moves["up"].timing == "after renewal"
    assert not moves["up2"].exception and moves["up2"].timing == "next wave"
    assert moves["down"].direction == "down" and moves["down"].timing == "hold"
    assert "churn risk 50%" in moves["down"].notes[0]


# ------------------------------------------------------------------------ communications


def test_communications_render_for_every_migration(tmp_path: Path) -> None:
    s = _two_model_scenario()
    report = segment(s)
    texts = communications(s, report, sender="Dana, VP CS")
    assert set(texts) == {
        "customer/U1-up.txt",
        "customer/U2-up.txt",
        "customer/O1-down.txt",
        "internal.md",
    }
    assert "monthly" in texts["customer/O1-down.txt"]  # the new model's cadence
    assert "Dana, VP CS" in texts["customer/U1-up.txt"]
    assert "2 account(s) move to more attention and 1 to less" in texts["internal.md"]

    (tmp_path / "customer_up.txt.j2").write_text("Hi {{ account.id }}: now {{ model.name }}\n")
    custom = communications(s, report, template_dir=tmp_path, sender="Dana, VP CS")
    assert custom["customer/U1-up.txt"] == "Hi U1: now High\n"
    assert custom["customer/O1-down.txt"] == texts["customer/O1-down.txt"]  # built-in kept


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    s = _two_model_scenario()
    report = segment(s)
    (tmp_path / "customer_up.txt.j2").write_text("line one\n{{ acount.name }}\n")
    with pytest.raises(TemplateProblem, match=r"customer_up.txt.j2, line 2: 'acount' is undefined"):
        communications(s, report, template_dir=tmp_path)
    (tmp_path / "customer_up.txt.j2").write_text("{% if %}\n")
    with pytest.raises(TemplateProblem, match=r"customer_up.txt.j2, line 1"):
        communications(s, report, template_dir=tmp_path)
    with pytest.raises(TemplateProblem, match="template folder not found"):
        communications(s, report, template_dir=tmp_path / "nope")


# ----------------------------------------------------------------------------- routing


def test_route_pools_accounts_sets_workloads_and_respects_who_serves_what() -> None:
    accounts = (
        [
            {
                "id": f"T{i}",
                "arr": 100 + i,
                "complexity": 5,
                "maturity": 1,
                "churn_risk": "high",
                "adoption": 0.0,
                "current_csm": "C1",
            }
            for i in range(4)
        ]
        + [
            {
                "id": f"P{i}",
                "arr": 50,
                "complexity": 1,
                "maturity": 5,
                "adoption": 1.0,
                "current_csm": "C2",
            }
            for i in range(3)
        ]
        + [
            {
                "id": "Locked",
                "arr": 50,
                "complexity": 1,
                "maturity": 5,
                "adoption": 1.0,
                "current_csm": "C2",
                "locked": True,
            },
        ]
    )
    # Async (need 0.3375) but today with C1, who serves only Task Force: it must move.
    accounts.append(
        {"id": "S", "arr": 80, "complexity": 3, "maturity": 3, "adoption": 0.5, "current_csm": "C1"}
    )
    csms = [
        {"id": "C1", "segments": ["Task Force"]},
        {"id": "C2"},
        {"id": "C3"},
        {"id": "Pool", "segments": ["Inbound"]},
    ]
    s = scenario(accounts, csms)
    report = segment(s)
    assert report.counts("segment") == {"Task Force": 4, "Inbound": 4, "Async": 1}
    routing = route(s, report)
    assert routing.pooled == ("P0", "P1", "P2")
    assert routing.pool_csms == ("Pool",)
    assert any("Locked" in note for note in routing.notes)
    routed = routing.scenario
    assert {c.id for c in routed.csms} == {"C1", "C2", "C3"}
    assert {a.id: a.workload for a in routed.accounts} == {
        **{f"T{i}": 12.0 for i in range(4)},
        "Locked": 2.0,  # stays named, at the least intensive named model (Async)
        "S": 2.0,
    }
    plan = solve(routed)
    assert plan.status == "optimal"
    owner = {r.account_id: r.csm_id for r in plan.assignments}
    assert owner["Locked"] == "C2"
    assert owner["S"] in ("C2", "C3")  # C1 serves only Task Force
    assert {r.account_id for r in plan.assignments} == {"T0", "T1", "T2", "T3", "Locked", "S"}


def test_route_refuses_when_nobody_can_take_named_accounts() -> None:
    s = scenario(
        [{"id": "A", "arr": 1, "complexity": 5, "churn_risk": "high"}],
        [{"id": "P", "segments": ["Inbound"]}],
    )
    with pytest.raises(ValueError, match="every CSM staffs the pool"):
        route(s)


# -------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            {"accounts": [{"id": "A", "arr": 1, "coverage": "Gold"}]},
            "accounts[A].coverage",
            "unknown segment 'Gold'",
        ),
        (
            {"csms": [{"id": "C1", "segments": ["Pool"]}]},
            "csms[C1].segments",
            "unknown segment 'Pool'",
        ),
        (
            {"segmentation": {"need_weights": {"vibes": 1}}},
            "segmentation.need_weights.vibes",
            "unknown dimension",
        ),
        (
            {"segmentation": {"value_weights": {"arr": -1}}},
            "segmentation.value_weights.arr",
            "from 0 to 1e6",
        ),
        (
            {"segmentation": {"value_weights": {"arr": 0}}},
            "segmentation.value_weights",
            "at least one weight",
        ),
        (
            {"segmentation": {"segments": [TWO_MODELS[1], TWO_MODELS[0]]}},
            "segmentation.segments",
            "highest min_score",
        ),
        (
            {"segmentation": {"tiers": [TWO_MODELS[0]]}},
            "segmentation.tiers[High].min_score",
            "min_score 0",
        ),
        (
            {"segmentation": {"tiers": [{**m, "named": False} for m in TWO_MODELS]}},
            "segmentation.tiers",
            "named CSM",
        ),
        (
            {"segmentation": {"cs_headroom": 5, "sales_headroom": 1}},
            "segmentation.cs_headroom",
            "above sales_headroom",
        ),
        (
            {"accounts": [{"id": "A", "arr": 1, "adoption": 1.5}]},
            "accounts[A].adoption",
            "less than or equal to 1",
        ),
        (
            {"accounts": [{"id": "A", "arr": 1, "competitive_risk": "severe"}]},
            "accounts[A].competitive_risk",
            "'low', 'medium', 'high'",
        ),
    ],
)
def test_bad_segmentation_input_names_the_field(
    change: dict[str, Any], path: str, words: str
) -> None:
    data: dict[str, Any] = {
        "as_of": AS_OF,
        "csms": [{"id": "C1"}],
        "accounts": [{"id": "A", "arr": 1}],
    }
    data.update(change)
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    found = {issue.path: issue.message for issue in info.value.issues}
    assert path in found, found
    assert words in found[path]


def test_tier_scheme_takes_tier_names_for_coverage() -> None:
    s = scenario([{"id": "A", "arr": 1, "coverage": "Tier 2", "current_csm": "C1"}], scheme="tiers")
    report = segment(s)
    assert report.scheme == "tiers" and report.account("A").current == "Tier 2"
    assert report.account("A").recommended == report.account("A").tier


# ------------------------------------------------------------------------ CLI and files


def test_segment_cli_writes_report_tables_and_messages(tmp_path: Path) -> None:
    data = {
        "name": "cli",
        "as_of": AS_OF,
        "csms": [{"id": "C1"}, {"id": "C2"}],
        "accounts": [
            {
                "id": "A1",
                "name": '=HYPERLINK("x")',
                "arr": 1000,
                "complexity": 5,
                "churn_risk": "high",
                "current_csm": "C1",
            },
            {
                "id": "A2",
                "arr": 500,
                "complexity": 1,
                "maturity": 5,
                "adoption": 1,
                "current_csm": "C2",
            },
        ],
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert main(["segment", str(path), "--out", str(out), "--solve", "--time-limit", "5"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert {a["account_id"]: a["recommended"] for a in report["accounts"]} == {
        # A1: 0.3 x 1 (complexity 5) + 0.25 x 0.5 (high risk) + 0.2 x 0.5 + 0.15 x 0.5 (no
        # maturity, no adoption: the midpoint) = 0.6, Task Force; A2: 0.0125, Inbound.
        "A1": "Task Force",
        "A2": "Inbound",
    }
    assert "'=HYPERLINK" in (out / "segments.csv").read_text()  # written as text
    header = (out / "segments.csv").read_text().splitlines()[0]
    assert "need.complexity" in header and "value.arr" in header
    assert (out / "communications" / "customer" / "A2-down.txt").is_file()
    assert json.loads((out / "pool.json").read_text())["pooled"] == ["A2"]
    plan = json.loads((out / "plan.json").read_text())
    assert [a["account_id"] for a in plan["assignments"]] == ["A1"]


def test_segment_cli_rejects_bad_input_and_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {"csms": [{"id": "C1"}], "accounts": [{"id": "A", "arr": 1, "coverage": "Gold"}]}
        )
    )
    assert main(["segment", str(path)]) == 2
    assert "accounts[A].coverage" in capsys.readouterr().err
    path.write_text(json.dumps({"csms": [{"id": "C1"}], "accounts": [{"id": "A", "arr": 1}]}))
    assert main(["segment", str(path), "--templates", str(tmp_path / "missing")]) == 2
    assert "template folder not found" in capsys.readouterr().err


def test_segmentation_is_deterministic() -> None:
    s = _two_model_scenario()
    assert segment(s).to_dict() == segment(s).to_dict()
    assert tables(segment(s)) == tables(segment(s))
