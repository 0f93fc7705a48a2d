"""The scenario contract: validation reports every problem at once, naming record and field."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import openpyxl
import pytest
from conftest import DATA, account, csm, make, scenario_dict, weights
from pydantic import ValidationError

from optimizer import Account, Objectives, Scenario, ScenarioError, json_schema, load_scenario


def issues_of(data: dict) -> dict[str, str]:
    """path -> message of every issue ``Scenario.from_dict(data)`` reports."""
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    by_path = {issue.path: issue.message for issue in info.value.issues}
    assert len(by_path) == len(info.value.issues), "one issue per path"
    return by_path


def two_csms() -> list[dict]:
    return [csm("C1"), csm("C2")]


def test_a_valid_scenario_builds_with_its_values() -> None:
    scenario = make(two_csms(), [account("A1", 1000, current_csm="C1")])
    assert [c.id for c in scenario.csms] == ["C1", "C2"]
    assert scenario.account("A1").arr == 1000
    assert scenario.current_assignment() == {"A1": "C1"}


def test_every_problem_is_reported_at_once_with_record_and_field() -> None:
    data = scenario_dict(
        two_csms(),
        [
            account("A1", 1000, current_csm="C1"),
            account("A1", 2000, current_csm="C2"),  # duplicate id
            account("A2", 3000, current_csm="C9"),  # unknown CSM
            account("A3", -5, current_csm="C1"),  # negative ARR
            account("A4", 4000, churn_risk="huge", current_csm="C1"),  # not a level
            account("A5", 5000, locked=True),  # locked without a CSM to stay with
        ],
        objectives=weights(),  # all six zero
        constraints={"arr_tolerance": 1.5},
    )
    found = issues_of(data)
    assert set(found) == {
        "accounts[A1].id",
        "accounts[A2].current_csm",
        "accounts[A3].arr",
        "accounts[A4].churn_risk",
        "accounts[A5].locked",
        "objectives",
        "constraints.arr_tolerance",
    }
    assert "duplicate account id" in found["accounts[A1].id"]
    assert "2 times" in found["accounts[A1].id"]
    assert "'C9'" in found["accounts[A2].current_csm"]
    assert "-5" in found["accounts[A3].arr"]
    assert "'huge'" in found["accounts[A4].churn_risk"]
    assert "'low', 'medium', 'high'" in found["accounts[A4].churn_risk"]
    assert "current_csm" in found["accounts[A5].locked"]
    assert "zero" in found["objectives"]
    assert "1.5" in found["constraints.arr_tolerance"]


def test_error_text_counts_and_lists_the_problems() -> None:
    data = scenario_dict(two_csms(), [account("A1", -1), account("A2", -2)])
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    text = str(info.value)
    assert text.startswith("2 problem(s)")
    assert "accounts[A1].arr" in text and "accounts[A2].arr" in text


def test_a_record_without_id_is_named_by_its_position() -> None:
    data = scenario_dict(two_csms(), [account("A1", 1), {"arr": -1}])
    found = issues_of(data)
    assert set(found) == {"accounts[1].id", "accounts[1].arr"}
    assert "required" in found["accounts[1].id"].lower()


def test_unknown_fields_are_rejected_by_name() -> None:
    data = scenario_dict([csm("C1", capcity=2)], [account("A1", 1, churn=0.2)])
    found = issues_of(data)
    assert set(found) == {"csms[C1].capcity", "accounts[A1].churn"}
    assert all("unknown field" in m for m in found.values())


def test_csm_problems_name_the_csm() -> None:
    data = scenario_dict(
        [csm("C1", min_arr=500, max_arr=100), csm("C2", capacity=0), csm("C2")],
        [account("A1", 1)],
    )
    found = issues_of(data)
    assert "csms[C1].min_arr" in found
    assert "500" in found["csms[C1].min_arr"] and "100" in found["csms[C1].min_arr"]
    assert "csms[C2].capacity" in found
    assert "duplicate CSM id" in found["csms[C2].id"]


def test_team_min_arr_above_team_max_arr_is_rejected() -> None:
    data = scenario_dict(
        two_csms(),
        [account("A1", 1)],
        constraints={"min_arr_per_csm": 2_000_000, "max_arr_per_csm": 1_000_000},
    )
    found = issues_of(data)
    assert set(found) == {"constraints.min_arr_per_csm"}
    assert "2,000,000" in found["constraints.min_arr_per_csm"]


def test_empty_team_and_empty_book_are_both_reported() -> None:
    found = issues_of(scenario_dict([], []))
    assert set(found) == {"csms", "accounts"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("complexity", 6),
        ("complexity", 0),
        ("health_score", 101),
        ("expansion_potential", 1.5),
        ("churn_risk", -0.1),
        ("renewal_date", "2026-13-01"),
        ("arr", math.inf),
        ("arr", math.nan),
        ("workload", -1),
    ],
)
def test_out_of_range_account_fields_are_rejected(field: str, value: object) -> None:
    record = {**account("A1", 1), field: value}
    found = issues_of(scenario_dict(two_csms(), [record]))
    assert f"accounts[A1].{field}" in found


def test_infinite_workload_is_rejected() -> None:
    found = issues_of(scenario_dict(two_csms(), [account("A1", 1, workload=math.inf)]))
    assert "accounts[A1].workload" in found


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("constraints", "workload_tolerance", 2),
        ("constraints", "balance_band", -0.1),
        ("constraints", "max_moves", -1),
        ("constraints", "high_risk_threshold", 1.5),
        ("solver", "backend", "gurobi"),
        ("solver", "gap", 2),
        ("solver", "time_limit_s", 0),
        ("solver", "threads", 0),
        ("objectives", "balance", -1),
    ],
)
def test_out_of_range_settings_are_rejected(section: str, field: str, value: object) -> None:
    data = scenario_dict(two_csms(), [account("A1", 1)])
    data[section] = {**data[section], field: value}
    assert f"{section}.{field}" in issues_of(data)


def test_all_zero_weights_are_rejected_when_all_five_are_given() -> None:
    found = issues_of(scenario_dict(two_csms(), [account("A1", 1)], objectives=weights()))
    assert set(found) == {"objectives"}


def test_all_zero_weights_are_rejected_when_continuity_is_left_to_its_default() -> None:
    # continuity defaults to 0, so four explicit zeros leave no positive weight.
    zero_four = {"churn_risk": 0, "balance": 0, "expertise": 0, "expansion": 0}
    found = issues_of(scenario_dict(two_csms(), [account("A1", 1)], objectives=zero_four))
    assert set(found) == {"objectives"}


def test_weights_may_be_zero_when_a_default_weight_stays_positive() -> None:
    # churn_risk omitted: its default 0.4 is positive, so the weights are fine.
    scenario = make(two_csms(), [account("A1", 1)], objectives={"balance": 0, "expertise": 0})
    assert scenario.objectives.normalized()["churn_risk"] == pytest.approx(0.4 / 0.5)


def test_weights_are_normalized_to_sum_one() -> None:
    normalized = Objectives(churn_risk=40, balance=30, expertise=20, expansion=10).normalized()
    assert normalized == pytest.approx(
        {
            "churn_risk": 0.4,
            "balance": 0.3,
            "expertise": 0.2,
            "expansion": 0.1,
            "continuity": 0,
            "preference": 0,
            "travel": 0,
            "soft_rules": 0,
        }
    )
    assert sum(normalized.values()) == pytest.approx(1.0)


def test_levels_map_to_documented_probabilities() -> None:
    levels = {"low": (0.05, 0.1), "medium": (0.2, 0.4), "high": (0.5, 0.8)}
    for level, (churn, potential) in levels.items():
        a = Account(id="A", arr=1, churn_risk=level, expansion_potential=level)
        assert a.churn_probability == churn
        assert a.expansion_score == potential
    numeric = Account(id="A", arr=1, churn_risk=0.33, expansion_potential=0.7)
    assert (numeric.churn_probability, numeric.expansion_score) == (0.33, 0.7)


def test_workload_defaults_to_complexity() -> None:
    assert Account(id="A", arr=1, complexity=4).workload_units == 4.0
    assert Account(id="A", arr=1, complexity=4, workload=2.5).workload_units == 2.5


def test_scenario_is_immutable_and_replace_revalidates() -> None:
    scenario = make(two_csms(), [account("A1", 1)])
    with pytest.raises(ValidationError):
        scenario.name = "other"  # type: ignore[misc]
    changed = scenario.replace(name="other", constraints={"max_moves": 3})
    assert (changed.name, changed.constraints.max_moves) == ("other", 3)
    assert scenario.name == "test"
    with pytest.raises(ScenarioError) as info:
        scenario.replace(constraints={"arr_tolerance": 2})
    assert [i.path for i in info.value.issues] == ["constraints.arr_tolerance"]


def test_lookups_raise_key_error_for_unknown_ids() -> None:
    scenario = make(two_csms(), [account("A1", 1)])
    assert scenario.csm("C2").id == "C2"
    with pytest.raises(KeyError):
        scenario.csm("C9")
    with pytest.raises(KeyError):
        scenario.account("A9")


def test_json_schema_describes_the_contract() -> None:
    schema = json_schema()
    assert schema["title"] == "Territory scenario"
    assert {"csms", "accounts"} <= set(schema["required"])
    assert {"objectives", "constraints", "solver"} <= set(schema["properties"])
    json.dumps(schema)  # serializable


# ------------------------------------------------------------------------------ files


def test_csv_backed_scenario_reports_every_bad_row_and_setting_at_once() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / "invalid_csv" / "scenario.json")
    found = {issue.path: issue.message for issue in info.value.issues}
    assert set(found) == {
        "accounts[A1].id",
        "accounts[A2].current_csm",
        "accounts[A3].arr",
        "accounts[A4].churn_risk",
        "accounts[A5].locked",
        "accounts[A6].arr",
        "objectives",
        "constraints.arr_tolerance",
    }
    assert "'lots'" in found["accounts[A6].arr"]
    assert "'C9'" in found["accounts[A2].current_csm"]


def test_malformed_csv_rows_and_missing_files_are_reported_together() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / "malformed_csv" / "scenario.json")
    found = {issue.path: issue.message for issue in info.value.issues}
    assert set(found) == {"accounts.csv:3", "csms"}
    assert "more cells" in found["accounts.csv:3"]
    assert "missing_csms.csv" in found["csms"]


def test_bad_csv_cells_and_field_problems_are_reported_together() -> None:
    # Row shape (an extra cell), a yes/no cell that is neither and a negative ARR: one run.
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / "bad_cells_csv" / "scenario.json")
    found = {issue.path: issue.message for issue in info.value.issues}
    assert set(found) == {"accounts.csv:4", "accounts[A1].locked", "accounts[A2].arr"}
    assert "more cells" in found["accounts.csv:4"]
    assert "'maybe'" in found["accounts[A1].locked"]
    assert "-5" in found["accounts[A2].arr"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("not_json.json", "not valid JSON"),
        ("list.json", "JSON object"),
        ("does_not_exist.json", "file not found"),
    ],
)
def test_unreadable_scenario_files_raise_scenario_error(name: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / name)
    assert len(info.value.issues) == 1
    assert expected in info.value.issues[0].message


def test_not_json_names_the_line() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / "not_json.json")
    assert "line 2" in info.value.issues[0].message


def test_csv_cells_are_parsed_into_lists_booleans_numbers_and_ids(tmp_path: Path) -> None:
    (tmp_path / "csms.csv").write_text(
        "id,capacity,industries,skills,languages,max_accounts\n"
        "007,0.5,fintech; retail,sql|python,en|de,\n"
        "C2,1,,,,4\n",
        encoding="utf-8",
    )
    (tmp_path / "accounts.csv").write_text(
        "\ufeffid,arr,current_csm,locked,required_skills,renewal_date,churn_risk\n"
        '101,"1,250,000",007,Yes,sql,2026-03-01,0.3\n'
        "A2,500,C2,n,,,high\n",
        encoding="utf-8",
    )
    (tmp_path / "scenario.json").write_text(
        json.dumps({"as_of": "2026-01-01", "csms": "csms.csv", "accounts": "accounts.csv"}),
        encoding="utf-8",
    )
    scenario = load_scenario(tmp_path / "scenario.json")
    c7 = scenario.csm("007")  # ids stay text, leading zeros included
    assert c7.capacity == 0.5
    assert c7.industries == ("fintech", "retail")
    assert c7.skills == ("sql", "python")
    assert c7.languages == ("en", "de")
    assert c7.max_accounts is None  # empty cell: absent
    assert scenario.csm("C2").max_accounts == 4
    a = scenario.account("101")
    assert a.arr == 1_250_000  # thousands separators
    assert a.current_csm == "007"
    assert a.locked is True
    assert a.required_skills == ("sql",)
    assert str(a.renewal_date) == "2026-03-01"
    assert a.churn_probability == 0.3
    assert scenario.account("A2").locked is False


def test_csv_rows_are_named_as_a_spreadsheet_numbers_them(tmp_path: Path) -> None:
    (tmp_path / "csms.csv").write_text("id;name\nC1;Ana\n", encoding="utf-8")  # ';' delimited
    (tmp_path / "accounts.csv").write_text(
        "id,arr,current_csm\n\nA1,1000,C1\nA2,2000,C1,surprise\n", encoding="utf-8"
    )
    (tmp_path / "scenario.json").write_text(
        json.dumps({"csms": "csms.csv", "accounts": "accounts.csv"}), encoding="utf-8"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "scenario.json")
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("accounts.csv:4", "more cells than header columns")  # the blank line is row 2
    ]


def test_accounts_and_csms_may_be_workbook_sheets(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Accounts"
    for row in (
        ["id", "arr", "complexity", "renewal_date", "locked", "current_csm"],
        [1002, 1250000, 4.0, dt.datetime(2026, 5, 1), True, "C1"],
        ["A2", "1,000", None, None, "no", "C1"],
    ):
        sheet.append(row)
    book.save(tmp_path / "crm.xlsx")
    (tmp_path / "csms.csv").write_text("id,skills\nC1,sql|python\n", encoding="utf-8")
    (tmp_path / "scenario.json").write_text(
        json.dumps({"csms": "csms.csv", "accounts": "crm.xlsx#Accounts"}), encoding="utf-8"
    )
    scenario = load_scenario(tmp_path / "scenario.json")
    first = scenario.account("1002")  # a number in a text column is its text
    assert (first.arr, first.complexity, first.locked) == (1250000.0, 4, True)
    assert first.renewal_date == dt.date(2026, 5, 1)
    assert scenario.account("A2").arr == 1000.0
    assert scenario.csm("C1").skills == ("sql", "python")
