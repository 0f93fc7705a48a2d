"""Import from CSV/XLSX exports and export a plan for a CRM (documents/importer.py,
documents/exports.py, optimizer/tables.py, the CLI)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import DATA, ROOT

from cli import main
from documents.exports import (
    BOOK_COLUMNS,
    BOOK_SUMMARY_COLUMNS,
    OWNER_UPDATE_COLUMNS,
    assignments_csv,
    book_summary_csv,
    book_summary_rows,
    books_csv,
    books_rows,
    owner_updates_csv,
    owner_updates_rows,
    write_xlsx,
)
from documents.importer import (
    ALIASES,
    FIELD_KINDS,
    IGNORED,
    alias_markdown,
    import_tables,
    normalize,
    write_scenario,
)
from optimizer import Account, Csm, ScenarioError, load_scenario, solve
from optimizer.tables import parse_date, parse_number, read_table

IMPORT = DATA / "import"
SALESFORCE = IMPORT / "salesforce_accounts.csv"
GAINSIGHT = IMPORT / "gainsight_companies.csv"
USERS = IMPORT / "users.csv"
AS_OF = dt.date(2026, 3, 2)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_book(path: Path, sheets: dict[str, list[list[Any]]], start_row: int = 1) -> Path:
    """A workbook whose sheets hold these rows (``None`` = empty cell), from ``start_row``."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for r, row in enumerate(rows, start=start_row):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(row=r, column=c, value=value)
    book.save(path)
    return path


def problems(exc: pytest.ExceptionInfo[ScenarioError]) -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in exc.value.issues]


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ------------------------------------------------------------------------- the column contract


def test_field_kinds_cover_every_importable_model_field() -> None:
    json_only = {"workload_by_csm", "preferences"}
    assert set(FIELD_KINDS["accounts"]) == set(Account.model_fields) - json_only
    assert set(FIELD_KINDS["csms"]) == set(Csm.model_fields) | {"email"}
    for kind in ("accounts", "csms"):
        assert set(ALIASES[kind]) <= set(FIELD_KINDS[kind])


def test_no_column_name_means_two_things() -> None:
    for kind in ("accounts", "csms"):
        seen: dict[str, str] = {}
        names = [(n, t) for t, ns in ALIASES[kind].items() for n in (t, *ns)]
        names += [(n, "ignored") for n in IGNORED[kind]]
        for name, target in names:
            key = normalize(name)
            assert seen.setdefault(key, target) == target, (kind, name, seen[key], target)


def test_the_doc_holds_the_generated_alias_table() -> None:
    doc = (ROOT / "docs" / "import-export.md").read_text(encoding="utf-8")
    assert alias_markdown() in doc, "regenerate the alias tables with alias_markdown()"
    for columns in (OWNER_UPDATE_COLUMNS, BOOK_COLUMNS, BOOK_SUMMARY_COLUMNS):
        for column in columns:
            assert f"`{column}`" in doc


# ------------------------------------------------------------------------------- reading files


def test_salesforce_report_maps_through_the_aliases() -> None:
    result = import_tables(SALESFORCE, USERS, as_of=AS_OF)
    accounts, users = result.files
    assert {c: f for c, f, _ in accounts.mapped} == {
        "Account ID": "id",
        "Account Name": "name",
        "Account Owner": "current_csm",
        "Annual Revenue": "arr",
        "Industry": "industry",
        "Renewal Date": "renewal_date",
        "Health Score": "health_score",
        "Churn Risk": "churn_risk",
        "Billing Region": "region",
        "Required Skills": "required_skills",
    }
    assert [c for c, _ in accounts.ignored] == ["Type"]
    assert [c for c, _ in users.ignored] == ["Role"]
    assert (accounts.rows, users.rows) == (7, 3)
    assert not accounts.european_numbers

    scenario = result.scenario
    assert scenario.as_of == AS_OF
    first = scenario.account("001X01")
    assert (first.arr, first.churn_risk, first.required_skills) == (
        420000.0,
        "medium",
        ("enterprise",),
    )
    assert first.renewal_date == dt.date(2026, 11, 30)
    assert scenario.account("001X02").renewal_date == dt.date(2026, 9, 15)  # 9/15/2026
    assert scenario.account("001X03").churn_risk == 0.12  # "12%"
    assert scenario.account("001X07").arr == 75500.5
    # Owners were names ("ana ruiz" in lower case too): now CSM ids; a blank owner is none.
    assert scenario.current_assignment() == {
        "001X01": "005A1",
        "001X02": "005A1",
        "001X03": "005A2",
        "001X04": "005A2",
        "001X05": "005A3",
        "001X06": None,
        "001X07": "005A3",
    }
    assert result.owners_translated == {"name": 6, "email": 0}
    ana = scenario.csm("005A3")
    assert (ana.capacity, ana.retention_rate, ana.expansion_rate) == (0.5, 0.9, 0.2)
    assert ana.industries == ("retail", "software")


def test_gainsight_export_with_european_numbers_and_owner_emails() -> None:
    result = import_tables(GAINSIGHT, USERS, as_of=AS_OF)
    accounts = result.files[0]
    assert accounts.european_numbers
    assert ("Lifecycle Stage", "known column without an engine field") in accounts.ignored
    mapped = {c: f for c, f, _ in accounts.mapped}
    assert (mapped["Company ID"], mapped["CSM"], mapped["Overall Score"]) == (
        "id",
        "current_csm",
        "health_score",
    )
    scenario = result.scenario
    assert [a.arr for a in scenario.accounts] == [1250000.5, 480000.0, 95000.0, 2100000.0]
    assert [a.renewal_date for a in scenario.accounts] == [
        dt.date(2027, 3, 31),
        dt.date(2026, 9, 15),
        dt.date(2026, 12, 1),
        dt.date(2027, 6, 30),
    ]
    assert [a.expansion_potential for a in scenario.accounts] == ["high", "medium", 0.4, "low"]
    # Emails, in any case, become ids.
    assert [a.current_csm for a in scenario.accounts] == ["005A3", "005A2", "005A1", "005A1"]
    assert result.owners_translated == {"name": 0, "email": 4}


def test_xlsx_named_sheet_typed_cells_and_spreadsheet_row_numbers(tmp_path: Path) -> None:
    book = write_book(
        tmp_path / "crm.xlsx",
        {
            "Notes": [["exported from the CRM"]],
            "Accounts": [
                [],
                [],
                ["Id", "Name", "ARR", "Renewal Date", "Owner Email", "Churn Risk"],
                ["A1", "Acme", 1250000, dt.date(2026, 5, 1), "MAYA.ORTIZ@example.com", 0.2],
                [],
                [
                    1002,
                    "Beta",
                    "$1.2M",
                    dt.datetime(2026, 6, 30, 15, 30),
                    "sam.lee@example.com",
                    "High",
                ],
            ],
        },
    )
    path = f"{book}#Accounts"
    assert read_table(path) == [
        {
            "Id": "A1",
            "Name": "Acme",
            "ARR": "1250000",
            "Renewal Date": "2026-05-01",
            "Owner Email": "MAYA.ORTIZ@example.com",
            "Churn Risk": "0.2",
        },
        {
            "Id": "1002",
            "Name": "Beta",
            "ARR": "$1.2M",
            "Renewal Date": "2026-06-30",
            "Owner Email": "sam.lee@example.com",
            "Churn Risk": "High",
        },
    ]
    result = import_tables(path, USERS, as_of=AS_OF)
    scenario = result.scenario
    assert [a.id for a in scenario.accounts] == ["A1", "1002"]
    assert [a.arr for a in scenario.accounts] == [1250000.0, 1200000.0]
    assert [a.renewal_date for a in scenario.accounts] == [
        dt.date(2026, 5, 1),
        dt.date(2026, 6, 30),
    ]
    assert [a.churn_risk for a in scenario.accounts] == [0.2, "high"]
    assert [a.current_csm for a in scenario.accounts] == ["005A1", "005A2"]

    # The header is on row 3, the data on rows 4 and 6: errors name the sheet's own rows.
    bad = write_book(
        tmp_path / "bad.xlsx",
        {
            "Accounts": [
                ["Id", "ARR", "Renewal Date"],
                ["A1", "12k$", dt.date(2026, 5, 1)],
                [],
                ["A2", 5, 46000],
            ]
        },
        start_row=3,
    )
    with pytest.raises(ScenarioError) as exc:
        import_tables(f"{bad}#Accounts", USERS)
    assert problems(exc) == [
        (
            "bad.xlsx#Accounts row 4, column 'ARR'",
            "'12k$' is not a number (accepted: 1250000, 1,250,000.50, $1,250,000, 1.2M, 450K)",
        ),
        (
            "bad.xlsx#Accounts row 6, column 'Renewal Date'",
            "46000 is a number, not a date (format the column as a date, or write YYYY-MM-DD)",
        ),
    ]


def test_xlsx_with_a_wrong_recorded_dimension_is_read_in_full(tmp_path: Path) -> None:
    """Some exporters record the sheet's size as "A1"; read-only openpyxl would then see one
    cell. Every row must still be read, with its own row number."""
    good = write_book(
        tmp_path / "good.xlsx", {"Accounts": [["id", "arr"], ["A1", 5], [], ["A2", "7 apples"]]}
    )
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data, count = re.subn(
                    rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1"/>', data
                )
                assert count == 1
            target.writestr(item, data)
    assert read_table(bad) == [{"id": "A1", "arr": "5"}, {"id": "A2", "arr": "7 apples"}]
    with pytest.raises(ScenarioError) as exc:
        import_tables(bad, USERS)
    assert [p for p, _ in problems(exc)] == ["bad.xlsx row 4, column 'arr'"]


def test_csv_delimiters_encodings_and_unreadable_files(tmp_path: Path) -> None:
    tab = write_csv(tmp_path / "tab.csv", "id\tarr\nA1\t5\n")
    assert read_table(tab) == [{"id": "A1", "arr": "5"}]
    (tmp_path / "bom.csv").write_bytes("\ufeffid;name\r\nA1;Zürich AG\r\n".encode())
    assert read_table(tmp_path / "bom.csv") == [{"id": "A1", "name": "Zürich AG"}]
    (tmp_path / "latin.csv").write_bytes("id,name\nA1,Zürich AG\n".encode("cp1252"))
    assert read_table(tmp_path / "latin.csv") == [{"id": "A1", "name": "Zürich AG"}]
    (tmp_path / "utf16.csv").write_bytes("id\tname\nA1\tZürich AG\n".encode("utf-16"))
    assert read_table(tmp_path / "utf16.csv") == [{"id": "A1", "name": "Zürich AG"}]

    for name, message in (
        ("old.xls", "the old .xls format is not supported"),
        ("data.json", "expected a .csv or .xlsx file"),
        ("missing.csv", "file not found"),
    ):
        if name != "missing.csv":
            (tmp_path / name).write_text("x", encoding="utf-8")
        with pytest.raises(ScenarioError) as exc:
            read_table(tmp_path / name)
        assert exc.value.issues[0].path == name
        assert message in exc.value.issues[0].message
    (tmp_path / "broken.xlsx").write_text("not a zip", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"not a readable \.xlsx workbook"):
        read_table(tmp_path / "broken.xlsx")
    book = write_book(tmp_path / "book.xlsx", {"Accounts": [["id"], ["A1"]]})
    with pytest.raises(
        ScenarioError, match=r"no sheet named 'Acounts' \(the sheets are 'Accounts'\)"
    ):
        read_table(f"{book}#Acounts")


# -------------------------------------------------------------------------------- cell parsing


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("1250000", {}, 1250000.0),
        ("$1,250,000", {}, 1250000.0),
        ("1,250,000.50", {}, 1250000.5),
        ("1 250 000", {}, 1250000.0),
        ("1.25E+06", {}, 1250000.0),
        ("-$5", {}, -5.0),
        ("1.2M", {"suffix": True}, 1200000.0),
        ("$4.35M", {"suffix": True}, 4350000.0),
        ("450K", {"suffix": True}, 450000.0),
        ("2b", {"suffix": True}, 2e9),
        ("$2.01M", {"suffix": True}, 2010000.0),  # 2.01 * 1e6 in floats is 2009999.9999999998
        ("57%", {"percent": True}, 0.57),  # 57 * 0.01 in floats is 0.5700000000000001
        ("15%", {"percent": True}, 0.15),
        ("12.5 %", {"percent": True}, 0.125),
        ("1.250.000,50", {"european": True}, 1250000.5),
        ("1.250.000,50 €", {"european": True}, 1250000.5),
        ("0,15", {"european": True}, 0.15),
        ("12,5%", {"european": True, "percent": True}, 0.125),
    ],
)
def test_numbers_parse_to_exact_values(
    text: str, options: dict[str, bool], expected: float
) -> None:
    assert parse_number(text, **options) == expected


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("12k$", {"suffix": True}, "'12k$' is not a number (accepted: "),
        ("1.2M", {}, "K, M and B suffixes are accepted only for amounts of money"),
        ("15%", {}, "a percentage is accepted only for rates and shares"),
        ("1,25,000", {}, "'1,25,000' is not a number"),
        ("1,250.50", {"european": True}, "this file writes numbers the European way"),
        ("n/a", {}, "'n/a' is not a number"),
    ],
)
def test_unparseable_numbers_say_what_is_accepted(
    text: str, options: dict[str, bool], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("$", r"\$")):
        parse_number(text, **options)


def test_european_numbers_are_detected_per_file(tmp_path: Path) -> None:
    def arrs(text: str) -> list[float]:
        path = write_csv(tmp_path / "acc.csv", "id,arr\n" + text)
        return [a.arr for a in import_tables(path, USERS).scenario.accounts]

    # 1.250.000 reads only as European, so the whole file does: 1.250 is then 1250.
    assert arrs('A1,1.250\nA2,2.500.000\nA3,"7,5"\n') == [1250.0, 2500000.0, 7.5]
    # Nothing only European: US, where 1.250 is 1.25 and "1,250" is 1250.
    assert arrs('A1,1.250\nA2,"1,250"\n') == [1.25, 1250.0]
    # Both styles in one file: US, and the European cell is an error.
    with pytest.raises(ScenarioError) as exc:
        arrs('A1,"1,250.50"\nA2,2.500.000\n')
    assert [p for p, _ in problems(exc)] == ["acc.csv row 3, column 'arr'"]


def test_date_formats() -> None:
    assert parse_date("2026-03-04") == dt.date(2026, 3, 4)
    assert parse_date("2026-03-04T09:30:00Z") == dt.date(2026, 3, 4)
    assert parse_date("03/04/2026") == dt.date(2026, 3, 4)
    assert parse_date("3/4/2026 10:00 AM") == dt.date(2026, 3, 4)
    assert parse_date("03/04/2026", "eu") == dt.date(2026, 4, 3)
    assert parse_date("04.03.2026") == dt.date(2026, 3, 4)
    assert parse_date("04.03.2026", "eu") == dt.date(2026, 3, 4)
    with pytest.raises(
        ValueError,
        match=r"'03/04/2026' is not a date \(accepted with --date-format iso: YYYY-MM-DD\)",
    ):
        parse_date("03/04/2026", "iso")
    with pytest.raises(ValueError, match="for DD/MM/YYYY dates pass --date-format eu"):
        parse_date("13/04/2026")
    with pytest.raises(ValueError, match="not a valid YYYY-MM-DD date"):
        parse_date("2026-02-30")


def test_date_format_option_reads_ambiguous_dates(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "acc.csv", "id,arr,renewal_date\nA1,5,03/04/2026\n")
    assert import_tables(path, USERS).scenario.accounts[0].renewal_date == dt.date(2026, 3, 4)
    eu = import_tables(path, USERS, date_format="eu")
    assert eu.scenario.accounts[0].renewal_date == dt.date(2026, 4, 3)


# --------------------------------------------------------------------------------- the errors


def test_every_problem_is_reported_at_once_with_its_row_and_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "acc.csv",
        "Account ID,Acount Nmae,Annual Revenue,ARR,Renewal Date,Account Owner\n"
        "A1,Acme,12k$,1,13/04/2026,Maya Ortiz\n"
        'A2,Beta,"$1,000",2,04/13/2026,Maya Ortz\n'
        "A1,Gamma,5,3,2026-01-01,\n",
    )
    with pytest.raises(ScenarioError) as exc:
        import_tables(path, USERS)
    found = problems(exc)
    assert [p for p, _ in found] == [
        "acc.csv row 1, column 'Acount Nmae'",
        "acc.csv row 1, column 'ARR'",
        "acc.csv row 2, column 'Annual Revenue'",
        "acc.csv row 2, column 'Renewal Date'",
        "acc.csv row 3, column 'Account Owner'",
        "acc.csv row 4, column 'Account ID'",
    ]
    messages = [m for _, m in found]
    assert messages[0].startswith("unknown column: did you mean 'Account Name' (name)")
    assert "Add it to the mapping file (--mapping)" in messages[0]
    assert "or pass --ignore-unknown to skip unknown columns" in messages[0]
    assert messages[1].startswith("maps to arr, like column 'Annual Revenue'")
    assert messages[2].startswith("'12k$' is not a number")
    assert messages[3].startswith("'13/04/2026' is not a valid MM/DD/YYYY date")
    assert messages[4].startswith(
        "owner 'Maya Ortz' matches no CSM id, name or email in users.csv (close: 'Maya Ortiz')"
    )
    assert messages[5] == "duplicate account id 'A1': rows 2 and 4"


def test_validation_errors_name_the_record_and_the_cell(tmp_path: Path) -> None:
    accounts = write_csv(
        tmp_path / "acc.csv",
        "Account ID,Annual Revenue,Health Score,Complexity\n"
        "A1,abc,50,3\n"  # a bad number: reported once, not again as a missing arr
        "A2,100,150,2.5\n"
        "A3,100,20,9\n",
    )
    roster = write_csv(tmp_path / "team.csv", "Email,Capacity\nmaya@example.com,0\n")
    with pytest.raises(ScenarioError) as exc:
        import_tables(accounts, roster)
    assert problems(exc) == [
        (
            "acc.csv row 2, column 'Annual Revenue'",
            "'abc' is not a number (accepted: 1250000, 1,250,000.50, $1,250,000, 1.2M, 450K)",
        ),
        ("acc.csv row 3, column 'Complexity'", "'2.5' is not a whole number"),
        (
            "csms[maya@example.com].capacity",
            "Input should be greater than 0 (got 0.0) (team.csv row 2, column 'Capacity')",
        ),
        (
            "accounts[A2].health_score",
            "Input should be less than or equal to 100 (got 150.0) (acc.csv row 3, column 'Health Score')",
        ),
        (
            "accounts[A3].complexity",
            "Input should be less than or equal to 5 (got 9) (acc.csv row 4, column 'Complexity')",
        ),
    ]


def test_a_required_field_without_a_column(tmp_path: Path) -> None:
    accounts = write_csv(tmp_path / "acc.csv", "Account ID,Revenue\nA1,5\n")
    roster = write_csv(tmp_path / "team.csv", "Full Name\nMaya\n")
    with pytest.raises(ScenarioError) as exc:
        import_tables(accounts, roster, ignore_unknown=True)
    found = problems(exc)
    assert [p for p, _ in found] == ["acc.csv", "team.csv"]
    assert found[0][1].startswith(
        "no column for the required field arr: name one 'ARR', 'Annual Recurring Revenue', "
        "'Annual Revenue', or map yours to 'arr' in the mapping file"
    )
    assert found[1][1].startswith("no column for the required field id (or an email column)")


def test_ignore_unknown_skips_unknown_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "acc.csv", "Account ID,ARR,Favourite Colour\nA1,5,blue\n")
    with pytest.raises(ScenarioError, match="unknown column"):
        import_tables(path, USERS)
    result = import_tables(path, USERS, ignore_unknown=True)
    assert result.files[0].ignored == [("Favourite Colour", "unknown (--ignore-unknown)")]
    assert result.scenario.accounts[0].arr == 5.0


def test_owner_names_shared_by_two_csms_are_ambiguous(tmp_path: Path) -> None:
    roster = write_csv(tmp_path / "team.csv", "User ID,Full Name\nU1,Alex Kim\nU2,alex  kim\n")
    accounts = write_csv(tmp_path / "acc.csv", "Account ID,ARR,Owner\nA1,5,Alex Kim\nA2,5,U2\n")
    with pytest.raises(ScenarioError) as exc:
        import_tables(accounts, roster)
    assert problems(exc) == [
        (
            "acc.csv row 2, column 'Owner'",
            "owner 'Alex Kim' matches the name of 2 CSMs (U1, U2) in team.csv: use their ids or emails",
        )
    ]


def test_a_mapping_file_overrides_and_extends_the_aliases(tmp_path: Path) -> None:
    accounts = write_csv(
        tmp_path / "acc.csv",
        'Acct #,Book Value,Annual Revenue,Rep,Segment\nA1,"1,500",999,Maya Ortiz,Sync\n',
    )
    mapping = tmp_path / "map.json"
    mapping.write_text(
        json.dumps(
            {
                "accounts": {
                    "Acct #": "id",
                    "book_value": "arr",
                    "Annual Revenue": None,
                    "REP": "current_csm",
                    "Segment": "coverage",
                }
            }
        ),
        encoding="utf-8",
    )
    result = import_tables(accounts, USERS, mapping=mapping)
    account = result.scenario.accounts[0]
    assert (account.id, account.arr, account.current_csm, account.coverage) == (
        "A1",
        1500.0,
        "005A1",
        "Sync",
    )
    summary = result.files[0]
    assert ("Book Value", "arr", "mapping") in summary.mapped
    assert summary.ignored == [("Annual Revenue", "mapping file")]

    mapping.write_text(json.dumps({"accounts": {"Book Value": "revenue"}, "teams": {}}), "utf-8")
    with pytest.raises(ScenarioError) as exc:
        import_tables(accounts, USERS, mapping=mapping)
    found = problems(exc)
    assert [p for p, _ in found] == ["map.json: accounts.Book Value", "map.json: teams"]
    assert found[0][1].startswith("'revenue' is not an importable account field")
    assert found[1][1] == "unknown section (the sections are 'accounts' and 'csms')"


# ------------------------------------------------------------------ import, solve and export


def test_the_imported_scenario_solves_and_its_moves_export(tmp_path: Path) -> None:
    result = import_tables(SALESFORCE, USERS, name="sf", as_of=AS_OF)
    written = write_scenario(result, tmp_path)
    assert sorted(p.name for p in written) == ["accounts.csv", "csms.csv", "scenario.json"]
    scenario = load_scenario(tmp_path / "scenario.json")
    assert scenario == result.scenario  # the engine's own files read back exactly

    plan = solve(scenario, time_limit_s=10)
    assert plan.status == "optimal"
    data = plan.to_dict()
    # Transition dates and as_of are optional in a plan: start without them.
    bare = {k: v for k, v in data.items() if k not in ("transition", "as_of")}
    with pytest.raises(ValueError, match="pass --effective-date YYYY-MM-DD"):
        owner_updates_csv(bare)

    rows = rows_of(owner_updates_csv(bare, dt.date(2026, 4, 1)))
    moved = {row.account_id: row for row in plan.moves()}
    assert [r["account_id"] for r in rows] == list(moved)
    assert len(rows) == data["kpis"]["after"]["moves"] > 0
    owners = {c.id: c.name for c in scenario.csms}
    for row in rows:
        account = scenario.account(row["account_id"])
        assert row["old_owner_id"] == account.current_csm
        assert row["old_owner_name"] == owners[account.current_csm or ""]
        assert row["new_owner_id"] == moved[account.id].csm_id != account.current_csm
        assert row["new_owner_name"] == owners[row["new_owner_id"]]
        assert row["effective_date"] == "2026-04-01"
        assert float(row["arr"]) == account.arr
    # Cloudline needs the enterprise skill, which only Maya Ortiz has: it must move to her.
    cloudline = next(r for r in rows if r["account_id"] == "001X04")
    assert cloudline == {
        "account_id": "001X04",
        "account_name": "Cloudline",
        "old_owner_id": "005A2",
        "old_owner_name": "Sam Lee",
        "new_owner_id": "005A1",
        "new_owner_name": "Maya Ortiz",
        "effective_date": "2026-04-01",
        "arr": "240000.0",
    }

    # With a transition section, each move takes its wave's date; the others the fallback.
    waved = {
        **bare,
        "transition": {
            "moves": [{"account_id": "001X04", "effective_date": "2026-03-16", "wave": 2}]
        },
    }
    dates = {
        r["account_id"]: r["effective_date"]
        for r in rows_of(owner_updates_csv(waved, dt.date(2026, 4, 1)))
    }
    assert dates["001X04"] == "2026-03-16"
    assert {d for a, d in dates.items() if a != "001X04"} == {"2026-04-01"}
    with pytest.raises(ValueError, match=r"no effective date for \d+ move\(s\)"):
        owner_updates_csv(waved)  # the other moves have no date
    # Without either, the plan's as_of.
    dated = rows_of(owner_updates_csv({**bare, "as_of": "2026-03-02"}))
    assert {r["effective_date"] for r in dated} == {"2026-03-02"}


def book(accounts: int, arr: float, target: float, workload: float, **extra: Any) -> dict[str, Any]:
    return {
        "capacity": 1.0,
        "accounts": accounts,
        "arr": arr,
        "arr_target": target,
        "arr_vs_target": arr / target,
        "workload": workload,
        "moves_in": 0,
        "moves_out": 0,
        **extra,
    }


def plan_dict(**extra: Any) -> dict[str, Any]:
    """Two CSMs; A1 moves C1 -> C2, A4 moves C2 -> C1, A3 is new; A2's name is a formula."""

    def row(
        account: str, name: str, csm: str, csm_name: str, previous: str | None, arr: float
    ) -> dict[str, Any]:
        moved = previous is not None and previous != csm
        return {
            "account_id": account,
            "account_name": name,
            "csm_id": csm,
            "csm_name": csm_name,
            "previous_csm_id": previous,
            "moved": moved,
            "arr": arr,
            "reasons": [],
        }

    return {
        "status": "optimal",
        "scenario": "handmade",
        "assignments": [
            row("A1", "Acme", "C2", "Bo Diaz", "C1", 100000.0),
            row("A2", '=HYPERLINK("http://x")', "C1", "Al Chen", "C1", 250000.5),
            row("A3", "Cato", "C1", "Al Chen", None, 50000.0),
            row("A4", "Dyn", "C1", "Al Chen", "C2", 400000.0),
        ],
        "csms": [
            {
                "csm_id": "C1",
                "name": "Al Chen",
                "before": book(2, 350000.5, 400000.25, 6.0),
                "after": book(3, 700000.5, 400000.25, 9.0, moves_in=1, moves_out=1),
            },
            {
                "csm_id": "C2",
                "name": "Bo Diaz",
                "before": book(1, 400000.0, 400000.25, 3.0),
                "after": book(1, 100000.0, 400000.25, 3.0, moves_in=1, moves_out=1),
            },
        ],
        **extra,
    }


def test_books_and_book_summary() -> None:
    plan = plan_dict()
    books = rows_of(books_csv(plan))
    assert [(r["csm_id"], r["account_id"]) for r in books] == [
        ("C1", "A4"),
        ("C1", "A2"),
        ("C1", "A3"),
        ("C2", "A1"),
    ]
    assert books[1]["account_name"] == '\'=HYPERLINK("http://x")'  # formula made text
    assert (books[0]["moved"], books[0]["previous_csm_id"], books[2]["previous_csm_id"]) == (
        "True",
        "C2",
        "",
    )
    summary = rows_of(book_summary_csv(plan))
    assert list(summary[0]) == BOOK_SUMMARY_COLUMNS
    assert summary[0]["accounts_before"] == "2" and summary[0]["accounts_after"] == "3"
    assert float(summary[0]["arr_after"]) == 700000.5
    assert float(summary[1]["arr_vs_target_after"]) == 100000.0 / 400000.25
    assert (summary[1]["moves_in"], summary[1]["moves_out"]) == ("1", "1")


def test_control_characters_never_reach_an_export() -> None:
    plan = plan_dict()
    plan["assignments"][0]["account_name"] = "Ac\x00me\u202etxt.exe"
    plan["assignments"][2]["account_name"] = "\x01=1+1"  # a formula behind a control character
    plan["assignments"][3]["account_name"] = "Line\nbreak\tand tab"
    books = {r["account_id"]: r["account_name"] for r in rows_of(books_csv(plan))}
    assert books["A1"] == "Acmetxt.exe"
    assert books["A3"] == "'=1+1"
    assert books["A4"] == "Line\nbreak\tand tab"  # text layout stays
    texts = [
        owner_updates_csv(plan, dt.date(2026, 1, 5)),
        assignments_csv(plan),
        book_summary_csv(plan),
    ]
    for text in texts:
        assert "\x00" not in text and "\u202e" not in text and "\x01" not in text


def test_a_plan_without_assignments_cannot_be_exported() -> None:
    infeasible = {"status": "infeasible", "assignments": [], "csms": []}
    for export in (owner_updates_csv, books_csv, book_summary_csv):
        with pytest.raises(ValueError, match=r"no assignments \(status 'infeasible'\)"):
            export(infeasible)


def test_xlsx_export_has_typed_cells(tmp_path: Path) -> None:
    plan = plan_dict()
    path = write_xlsx(
        tmp_path / "out.xlsx",
        {
            "Owner updates": owner_updates_rows(plan, dt.date(2026, 4, 1)),
            "Books": books_rows(plan),
            "Book summary": book_summary_rows(plan),
        },
    )
    book_ = openpyxl.load_workbook(path)
    assert book_.sheetnames == ["Owner updates", "Books", "Book summary"]
    updates = book_["Owner updates"]
    assert [c.value for c in updates[1]] == OWNER_UPDATE_COLUMNS
    assert [c.value for c in updates[2]] == [
        "A1",
        "Acme",
        "C1",
        "Al Chen",
        "C2",
        "Bo Diaz",
        dt.datetime(2026, 4, 1),
        100000,
    ]
    assert updates["H2"].data_type == "n" and updates["G2"].is_date
    assert updates.max_row == 3  # A1 and A4 move
    books = book_["Books"]
    assert books["D3"].value == '\'=HYPERLINK("http://x")' and books["D3"].data_type == "s"
    assert books["E3"].value == 250000.5 and books["E3"].data_type == "n"
    assert books["F2"].value is True
    assert books["G4"].value is None  # A3 had no CSM: an empty cell
    summary = book_["Book summary"]
    assert summary["J3"].value == pytest.approx(0.25) and summary["J3"].number_format == "0.0%"


# ---------------------------------------------------------------------------------- the CLI


def test_cli_import_writes_the_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q3"
    args = ["import", "--accounts", str(SALESFORCE), "--csms", str(USERS), "--as-of", "2026-03-02"]
    assert main([*args, "--out", str(out)]) == 0
    scenario_json = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    assert (scenario_json["name"], scenario_json["as_of"]) == ("q3", "2026-03-02")
    assert (scenario_json["accounts"], scenario_json["csms"]) == ("accounts.csv", "csms.csv")
    assert scenario_json["objectives"]["churn_risk"] == 40
    assert load_scenario(out / "scenario.json").account("001X04").current_csm == "005A2"
    printed = capsys.readouterr().out
    assert "Annual Revenue" in printed and "ignored" in printed
    assert "Imported 7 accounts and 3 CSMs as of 2026-03-02" in printed


def test_cli_import_lists_every_problem_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = write_csv(
        tmp_path / "acc.csv",
        "Account ID,ARR,Colour,Health Score\nA1,12k$,red,50\nA2,x,blue,50\nacme,5,green,150\n",
    )
    out = tmp_path / "out"
    code = main(["import", "--accounts", str(accounts), "--csms", str(USERS), "--out", str(out)])
    assert code == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "3 problem(s), nothing was written" in err
    for where in ("row 1, column 'Colour'", "row 2, column 'ARR'", "row 3, column 'ARR'"):
        assert where in err
    code = main(
        [
            "import",
            "--accounts",
            str(accounts),
            "--csms",
            str(USERS),
            "--out",
            str(out),
            "--ignore-unknown",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    # The columns are right now, so validation runs too; "[acme]" is printed, not taken as markup.
    assert "3 problem(s)" in err
    assert "accounts[acme].health_score: Input should be less than or equal to 100" in err


def test_cli_export_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan_dict()), encoding="utf-8")
    out = tmp_path / "crm"
    assert main(["export", str(plan_file), "--out", str(out)]) == 2
    assert "pass --effective-date" in capsys.readouterr().err
    assert not out.exists()

    code = main(
        ["export", str(plan_file), "--out", str(out), "--effective-date", "2026-04-01", "--xlsx"]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "book_summary.csv",
        "books.csv",
        "owner_updates.csv",
        "territory-plan.xlsx",
    ]
    updates = rows_of((out / "owner_updates.csv").read_text(encoding="utf-8"))
    assert [(r["account_id"], r["old_owner_id"], r["new_owner_id"]) for r in updates] == [
        ("A1", "C1", "C2"),
        ("A4", "C2", "C1"),
    ]
    assert "2 owner update(s) effective 2026-04-01" in capsys.readouterr().out

    plan_file.write_text(json.dumps({"status": "infeasible", "assignments": []}), encoding="utf-8")
    assert main(["export", str(plan_file), "--out", str(tmp_path / "x")]) == 2
    assert "no assignments (status 'infeasible')" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(plan_file), "--out", str(out), "--effective-date", "next week"])
    assert exit_.value.code == 2
