"""Tables in (optimizer/tables.py): spreadsheet rows and columns kept, cells read by the kind
of field that the models declare."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel

from optimizer import Account, Csm, ScenarioError
from optimizer.tables import (
    FRACTION,
    MONEY,
    Cell,
    CellError,
    Kind,
    Reading,
    field_kinds,
    parse_cell,
    plain_value,
    read_records,
    read_sheet,
)


def test_field_kinds_come_from_the_models_annotations() -> None:
    accounts = field_kinds(Account)
    assert {k: accounts[k] for k in ("id", "arr", "health_score", "churn_risk")} == {
        "id": "text",
        "arr": "money",
        "health_score": "number",
        "churn_risk": "level",
    }
    assert (accounts["complexity"], accounts["renewal_date"], accounts["locked"]) == (
        "integer",
        "date",
        "boolean",
    )
    assert (accounts["required_skills"], accounts["adoption"], accounts["growth"]) == (
        "list",
        "fraction",
        "fraction",
    )
    assert "workload_by_csm" not in accounts and "preferences" not in accounts  # mappings
    csms = field_kinds(Csm)
    assert (csms["capacity"], csms["min_arr"], csms["skills"]) == ("fraction", "money", "list")


def test_a_field_added_to_a_model_is_read_by_its_annotation(tmp_path: Path) -> None:
    class Extended(BaseModel):
        id: str
        upsell: Annotated[float, MONEY] | None = None
        discount: Annotated[float, FRACTION] = 0.0
        seats: int | None = None
        tags: tuple[str, ...] = ()
        notes: dict[str, str] = {}

    kinds = field_kinds(Extended)
    assert kinds == {
        "id": "text",
        "upsell": "money",
        "discount": "fraction",
        "seats": "integer",
        "tags": "list",
    }
    path = tmp_path / "extra.csv"
    path.write_text("id,upsell,discount,seats,tags\nA1,$1.2M,15%,12,a; b\nA2,,,2.5,\n", "utf-8")
    table = read_sheet(path)
    fields = {i: (h, kinds[h]) for i, h in enumerate(table.headers)}
    read = read_records(table, fields, lambda kind, cell: parse_cell(kind, cell, Reading()))
    assert read.records == [
        {"id": "A1", "upsell": 1200000.0, "discount": 0.15, "seats": 12, "tags": ["a", "b"]},
        {"id": "A2"},
    ]
    assert [(row, issue.path, issue.message) for row, issue in read.problems] == [
        (3, "extra.csv row 3, column 'seats'", "'2.5' is not a whole number")
    ]
    assert read.bad == {(1, "seats")}


def test_rows_and_columns_are_where_a_spreadsheet_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "\n"  # empty rows above the header
        " , \n"
        "id,name,arr,,\n"  # empty header cells at the end
        'A1,"Acme\nGroup",5\n'  # a quoted cell over two lines is one row
        "\n"
        "A2,Beta,7,,extra\n"  # longer than the header
        "A3,Cato,9,,\n",
        encoding="utf-8",
    )
    table = read_sheet(path)
    assert (table.label, table.header_row) == ("export.csv", 3)
    assert table.headers == ["id", "name", "arr", "", ""]
    assert table.row_numbers == [4, 6, 7]
    assert table.columns[1] == ["Acme\nGroup", "Beta", "Cato"]
    assert table.filled(4) == [6] and table.filled(3) == []
    assert table.where(6, "arr") == "export.csv row 6, column 'arr'"
    assert table.where([4, 7]) == "export.csv rows 4 and 7"
    # Columns empty in every row are dropped from the right.
    path.write_text("id,arr,,\nA1,5,,\n", encoding="utf-8")
    assert read_sheet(path).headers == ["id", "arr"]


def test_a_quote_left_open_runs_to_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "open.csv"
    path.write_text('id,name\nA1,"Acme\nA2,Beta\n', encoding="utf-8")
    table = read_sheet(path)
    assert (table.row_numbers, table.columns) == ([2], [["A1"], ["Acme\nA2,Beta"]])


def test_an_empty_file_is_an_error_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("\n , \n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="the file is empty"):
        read_sheet(path)
    table = read_sheet(path, allow_empty=True)
    assert (table.header_row, table.headers, table.row_numbers) == (0, [], [])


@pytest.mark.parametrize(
    ("kind", "cell", "expected"),
    [
        ("text", "007", "007"),
        ("money", "1,250,000", 1250000.0),
        ("money", "lots", "lots"),  # left for validation to name
        ("integer", "3", 3),
        ("integer", "2.5", 2.5),
        ("level", "high", "high"),
        ("level", "0.3", 0.3),
        ("list", "sql; python|go", ["sql", "python", "go"]),
        ("boolean", "Yes", True),
        ("boolean", "maybe", "maybe"),
        ("date", "2026-03-01", "2026-03-01"),
        (None, "anything", "anything"),
        ("integer", 3.0, 3),  # a workbook's typed cells
        ("number", 2.5, 2.5),
        ("text", 1002, "1002"),
        ("date", dt.date(2026, 3, 1), dt.date(2026, 3, 1)),
        ("boolean", True, True),
    ],
)
def test_plain_values(kind: Kind | None, cell: Cell, expected: object) -> None:
    assert plain_value(kind, cell) == expected


def test_remembered_cells_read_as_the_others(tmp_path: Path) -> None:
    path = tmp_path / "repeat.csv"
    path.write_text("id,skills,arr\nA1,a;b,5%\nA2,a;b,5%\nA3,a;b,6\n", encoding="utf-8")
    table = read_sheet(path)
    fields: dict[int, tuple[str, Kind | None]] = {
        0: ("id", "text"),
        1: ("skills", "list"),
        2: ("arr", "money"),
    }
    once = read_records(table, fields, parse_cell, remember=True)
    each = read_records(table, fields, parse_cell)
    assert once.records == each.records
    assert once.records[0]["skills"] is not once.records[1]["skills"]
    assert [row for row, _ in once.problems] == [row for row, _ in each.problems] == [2, 3]
    with pytest.raises(CellError):
        parse_cell("money", "5%")
