"""Tables in: CSV files and XLSX sheets read into cells that keep their spreadsheet row and
column, and those cells read as the fields they feed.

Two kinds of file come through here: the engine's own CSV files next to a scenario
(:func:`optimizer.scenario.load_scenario`), whose cells are plain (:func:`plain_value`), and
exports from a CRM or an HR tool (:mod:`documents.importer`), whose cells are written as people
write them: ``$1,250,000``, ``1.2M``, ``15%``, ``1.250.000,50``, ``03/04/2026``
(:func:`parse_cell`). Both read the file with :func:`read_sheet` and their cells with
:func:`read_records`, which collects every problem, each naming the file, the row and the column
as a spreadsheet shows them (``accounts.xlsx row 7, column 'Annual Revenue'``).

What each field's cells hold comes from the pydantic models (:func:`field_kinds`): the
annotation tells text, numbers, whole numbers, dates, lists and booleans apart, and a
:class:`Cells` marker in it says what the annotation cannot (:data:`MONEY`, :data:`FRACTION`,
:data:`LEVEL`). A field added to a model is read from tables with nothing else to change.

pandas and openpyxl are imported only when a file is read. Formats and messages are documented
in docs/import-export.md and docs/scenario-format.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import types
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from .issues import ScenarioError, ScenarioIssue

Kind = Literal["text", "money", "number", "integer", "fraction", "level", "date", "list", "boolean"]
#: Kinds whose cells are numbers (a level may also be a word).
NUMERIC_KINDS: tuple[Kind, ...] = ("money", "number", "integer", "fraction", "level")
DateFormat = Literal["us", "eu", "iso"]
#: A cell as read: text from a CSV; text, a number, a boolean or a date from a workbook.
Cell = str | int | float | bool | dt.date | None
#: Words of a level field (docs/scenario-format.md).
LEVELS = ("low", "medium", "high")
#: Words read as booleans.
BOOL_WORDS = {
    "true": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "no": False,
    "n": False,
    "0": False,
}

# ----------------------------------------------------------------------------------------
# The fields


@dataclass(frozen=True)
class Cells:
    """What a field's cells hold where its annotation cannot tell, put in the annotation:
    ``arr: Annotated[float, MONEY]``."""

    kind: Kind


#: An amount of money: ``K``, ``M`` and ``B`` suffixes are accepted (``1.2M``).
MONEY = Cells("money")
#: A rate or a share: a percentage is accepted (``15%`` is 0.15).
FRACTION = Cells("fraction")
#: ``low``, ``medium`` or ``high``, or a probability as a fraction.
LEVEL = Cells("level")

# bool before int: a bool is an int to Python.
_TYPE_KINDS: tuple[tuple[type, Kind], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "text"),
    (dt.date, "date"),
)


@functools.cache
def field_kinds(model: type[BaseModel]) -> dict[str, Kind]:
    """The fields of ``model`` that a table's cells can hold, each with what its cells hold,
    in the model's order.

    Parameters
    ----------
    model
        A pydantic model class, such as :class:`optimizer.scenario.Account`.

    Returns
    -------
    dict
        Field name -> kind. A field the annotation reads as ``float`` is a ``number`` unless a
        :class:`Cells` marker says otherwise; mappings (``dict``) are left out, since a cell
        cannot hold one. Cached: a large file asks once per column.
    """
    kinds: dict[str, Kind] = {}
    for name, info in model.model_fields.items():
        marked = [m.kind for m in info.metadata if isinstance(m, Cells)]
        kind = marked[0] if marked else annotation_kind(info.annotation)
        if kind is not None:
            kinds[name] = kind
    return kinds


def annotation_kind(annotation: Any) -> Kind | None:
    """What the cells of a field with this type annotation hold, or ``None`` when a cell
    cannot hold it (a mapping, or a union of different kinds without a :class:`Cells` marker).

    Parameters
    ----------
    annotation
        A type annotation: ``float``, ``str | None``, ``tuple[str, ...]``,
        ``Annotated[float, MONEY] | None``.

    Returns
    -------
    str or None
        One of :data:`Kind`'s values, or ``None``.
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        marked = [m.kind for m in annotation.__metadata__ if isinstance(m, Cells)]
        return marked[0] if marked else annotation_kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {annotation_kind(a) for a in get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin in (tuple, list, set, frozenset):
        return "list"
    if origin is Literal:
        return "text"
    if isinstance(annotation, type):
        for python_type, kind in _TYPE_KINDS:
            if issubclass(annotation, python_type):
                return kind
    return None


# ----------------------------------------------------------------------------------------
# Reading files

#: Files read as delimited text, and as workbooks.
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Table:
    """A table as read, each cell where a spreadsheet shows it.

    ``headers[j]`` is the header of column ``j`` (letter :func:`column_letter`; ``""`` when the
    header cell is empty) and ``columns[j][i]`` its cell in data row ``i``, spreadsheet row
    ``row_numbers[i]``. Cells are stripped; an empty one is ``""`` or ``None``. The header is
    the first non-empty row; empty rows are left out. An empty file has no header
    (``header_row`` 0) and no rows.
    """

    label: str
    header_row: int
    headers: list[str]
    row_numbers: list[int]
    columns: list[list[Cell]]

    def where(self, row: int | Sequence[int], header: str | None = None) -> str:
        """``accounts.xlsx row 7, column 'Annual Revenue'`` (``rows 2 and 9`` for several)."""
        column = f", column {header!r}" if header else ""
        if isinstance(row, int):
            return f"{self.label} row {row}{column}"
        return f"{self.label} rows {' and '.join(str(r) for r in row)}{column}"

    def filled(self, column: int) -> list[int]:
        """The spreadsheet rows whose cell in ``column`` holds something."""
        cells = self.columns[column]
        return [row for row, cell in zip(self.row_numbers, cells, strict=True) if not blank(cell)]


def blank(cell: Cell) -> bool:
    """Whether a cell as read is empty."""
    return cell is None or cell == ""


def _fail(label: str, message: str) -> ScenarioError:
    return ScenarioError([ScenarioIssue(path=label, message=message)])


def split_sheet(path: str | Path) -> tuple[Path, str | None]:
    """``book.xlsx#Sheet`` -> (``book.xlsx``, ``Sheet``); any other path -> (path, ``None``)."""
    text = str(path)
    base, sep, sheet = text.rpartition("#")
    if sep and base.lower().endswith(WORKBOOK_SUFFIXES):
        return Path(base), sheet
    return Path(text), None


def read_sheet(path: str | Path, *, allow_empty: bool = False) -> Table:
    """Read a CSV file or a workbook's sheet into a :class:`Table`.

    Parameters
    ----------
    path
        A ``.csv`` (also ``.tsv``, ``.txt``), ``.xlsx`` or ``.xlsm`` file; ``book.xlsx#Sheet``
        for another sheet than the first. CSV: UTF-8 (with or without a BOM), UTF-16 with a
        BOM or Windows-1252, delimited by ``,``, ``;`` or tab (:func:`sniff_delimiter`).
        XLSX: the cached values of formulas, dates as :class:`datetime.date`.
    allow_empty
        Return an empty table for a file without a non-empty row instead of raising.

    Returns
    -------
    Table
        The header and the non-empty rows below it, with their spreadsheet row numbers.

    Raises
    ------
    ScenarioError
        Naming the file, when it cannot be read (or is empty, unless ``allow_empty``).
    """
    file, sheet = split_sheet(path)
    label = file.name + (f"#{sheet}" if sheet else "")
    suffix = file.suffix.lower()
    if suffix not in TEXT_SUFFIXES + WORKBOOK_SUFFIXES:
        hint = (
            "the old .xls format is not supported: save it as .xlsx or .csv"
            if suffix == ".xls"
            else "expected a .csv or .xlsx file"
        )
        raise _fail(label, f"cannot read {file}: {hint}")
    if not file.is_file():
        raise _fail(label, f"file not found: {file}")
    if suffix in WORKBOOK_SUFFIXES:
        columns = _xlsx_columns(file, sheet, label)
    else:
        columns = _csv_columns(file, label)
    table = _table(label, columns)
    if not table.headers and not allow_empty:
        raise _fail(label, "the file is empty: expected a header row and data rows")
    return table


def read_table(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``.csv`` or ``.xlsx`` file as ``{column: text}``.

    Parameters
    ----------
    path
        As for :func:`read_sheet`.

    Returns
    -------
    list of dict
        One dict per non-empty row below the header: every cell as text (:func:`cell_text`),
        ``""`` when empty. Columns without a header are left out; of two columns with the
        same header, the last one wins.

    Raises
    ------
    ScenarioError
        Naming the file, when it cannot be read or is empty.
    """
    table = read_sheet(path)
    named = [(h, cells) for h, cells in zip(table.headers, table.columns, strict=True) if h]
    return [
        {header: cell_text(cells[i]) for header, cells in named}
        for i in range(len(table.row_numbers))
    ]


def decode(raw: bytes) -> str:
    """A CSV file's text: UTF-16 with a BOM (Excel's "Unicode Text"), UTF-8 with or without a
    BOM, else Windows-1252 (Excel's "CSV" on Windows)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    """The one of ``,``, ``;`` and tab that splits the first non-empty line into the most
    cells (``,`` on a tie)."""
    for line in text.splitlines():
        if line.strip():
            counts = {d: len(next(csv.reader([line], delimiter=d))) for d in (",", ";", "\t")}
            return max(counts, key=lambda d: (counts[d], d == ","))
    return ","


def _csv_columns(file: Path, label: str) -> list[list[Cell]]:
    """Every record of a CSV file as columns of stripped text, empty records included, so the
    record number is the spreadsheet row."""
    try:
        text = decode(file.read_bytes())
    except OSError as exc:
        raise _fail(label, f"cannot read {file}: {exc.strerror or exc}") from None
    if not text.strip():
        return []
    delimiter = sniff_delimiter(text)
    columns = _pandas_columns(text, delimiter)
    if columns is None:
        columns = _csv_module_columns(text, delimiter, label)
    return [[cell.strip() for cell in cells] for cells in columns]


def _pandas_columns(text: str, delimiter: str) -> list[list[str]] | None:
    """The columns as pandas's C parser reads them, or ``None`` where it refuses a file that
    the csv module reads (an unclosed quote, which runs to the end of the file; a quoted cell
    over several lines that makes its record wider than any line).

    Three times faster than the csv module on a large file, as it builds columns rather than
    rows. It needs the number of columns up front, or it fails on a row longer than the
    first: the line with the most delimiters gives it.
    """
    import pandas

    width = 1 + max(line.count(delimiter) for line in text.splitlines())
    try:
        frame = pandas.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            names=range(width),
            index_col=False,
            dtype=object,
            keep_default_na=False,  # "NA" and "null" are text, not missing values
            na_filter=False,
            skip_blank_lines=False,  # empty rows keep their place: row numbers stay right
            engine="c",
        )
    except pandas.errors.ParserError:
        return None
    return [frame[name].tolist() for name in frame.columns]


def _csv_module_columns(text: str, delimiter: str, label: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise _fail(label, f"not a readable CSV file: {exc}") from None
    width = max(len(row) for row in rows)
    return [[row[j] if j < len(row) else "" for row in rows] for j in range(width)]


def _xlsx_columns(file: Path, sheet: str | None, label: str) -> list[list[Cell]]:
    """Every row of a workbook's sheet as columns, empty rows included, so the position is
    the sheet's row number."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and format errors all mean "not a workbook we can read"
        raise _fail(label, f"not a readable .xlsx workbook: {exc}") from None
    try:
        if sheet is None:
            worksheet = book.worksheets[0]
        elif sheet in book.sheetnames:
            worksheet = book[sheet]
        else:
            names = ", ".join(repr(n) for n in book.sheetnames)
            raise _fail(label, f"no sheet named {sheet!r} (the sheets are {names})")
        # Read every cell whatever dimension the file records (some exporters record "A1",
        # which would hide every row); empty rows still come through, so numbers stay right.
        worksheet.reset_dimensions()
        rows = [
            [_xlsx_cell(value) for value in row] for row in worksheet.iter_rows(values_only=True)
        ]
    finally:
        book.close()
    width = max((len(row) for row in rows), default=0)
    return [[row[j] if j < len(row) else None for row in rows] for j in range(width)]


def _xlsx_cell(value: Any) -> Cell:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        return value.strip()
    if value is None or isinstance(value, bool | int | float | dt.date):
        return value
    return str(value)  # a time of day, a duration: kept as text


def _table(label: str, columns: list[list[Cell]]) -> Table:
    """The first non-empty row is the header; the data rows are the non-empty rows below it;
    columns empty in all of them are dropped from the right."""
    height = len(columns[0]) if columns else 0
    rows = [i for i in range(height) if not all(blank(cells[i]) for cells in columns)]
    if not rows:
        return Table(label, 0, [], [], [])
    while all(blank(columns[-1][i]) for i in rows):
        columns.pop()
    header, data = rows[0], rows[1:]
    if len(data) == height - header - 1:  # no empty row below the header: slices are cheaper
        kept = [cells[header + 1 :] for cells in columns]
    else:
        kept = [[cells[i] for i in data] for cells in columns]
    return Table(
        label=label,
        header_row=header + 1,
        headers=[cell_text(cells[header]) for cells in columns],
        row_numbers=[i + 1 for i in data],
        columns=kept,
    )


def cell_text(cell: Cell) -> str:
    """A cell as text: numbers keep their value (1250000.0 -> ``"1250000"``), dates are ISO,
    booleans ``true``/``false``, an empty cell ``""``."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)


def column_letter(index: int) -> str:
    """A column's letter as a spreadsheet shows it: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# ----------------------------------------------------------------------------------------
# Records


@dataclass
class Records:
    """A table's data rows read as records: one per row, and the cells that could not be read.

    ``records[i]`` holds the fields of spreadsheet row ``table.row_numbers[i]`` whose cells
    are not empty. ``problems`` are ``(row, issue)`` in row order, each issue naming the file,
    the row and the column; ``bad`` holds ``(record index, field)`` for each of them.
    """

    table: Table
    records: list[dict[str, Any]]
    problems: list[tuple[int, ScenarioIssue]] = field(default_factory=list)
    bad: set[tuple[int, str]] = field(default_factory=set)


class CellError(ValueError):
    """Why one cell cannot be read, in words."""


#: Reads one non-empty cell of a field of the given kind, or raises :class:`CellError`.
ReadCell = Callable[[Kind | None, Cell], Any]


def read_records(
    table: Table,
    fields: Mapping[int, tuple[str, Kind | None]],
    read: ReadCell,
    *,
    remember: bool = False,
) -> Records:
    """Read the cells of the given columns into one record per data row.

    Parameters
    ----------
    table
        The table, from :func:`read_sheet`.
    fields
        Column index -> (field name, kind; ``None`` for a field a table cannot hold), in
        column order. Of two columns with the same field, the later non-empty cell wins.
    read
        How one cell is read: :func:`plain_value`, or :func:`parse_cell` with a
        :class:`Reading`. Empty cells are left out of the records.
    remember
        Read each distinct text of a column once: worth it when reading a cell costs more than
        looking it up (:func:`parse_cell`), as columns repeat their values (levels, regions,
        dates, owners).

    Returns
    -------
    Records
        The records, and every cell that ``read`` refused, with its row and column.
    """
    out = Records(table, [{} for _ in table.row_numbers])
    for index, (name, kind) in fields.items():
        read_cell = _remembering(read, kind) if remember else functools.partial(read, kind)
        header = table.headers[index]
        cells = table.columns[index]
        for position, (record, cell) in enumerate(zip(out.records, cells, strict=True)):
            if cell is None or cell == "":
                continue
            try:
                record[name] = read_cell(cell)
            except CellError as exc:
                row = table.row_numbers[position]
                issue = ScenarioIssue(path=table.where(row, header), message=str(exc))
                out.problems.append((row, issue))
                out.bad.add((position, name))
    out.problems.sort(key=lambda problem: problem[0])  # stable: columns in order within a row
    return out


def _remembering(read: ReadCell, kind: Kind | None) -> Callable[[Cell], Any]:
    """``read`` for one column, reading each distinct text once. A list is read again for each
    cell, so that no two records share one."""
    known: dict[str, Any] = {}

    def read_cell(cell: Cell) -> Any:
        if not isinstance(cell, str):
            return read(kind, cell)
        if cell not in known:
            try:
                value = read(kind, cell)
            except CellError as exc:
                known[cell] = exc
                raise
            if type(value) is list:
                return value
            known[cell] = value
        value = known[cell]
        if isinstance(value, CellError):
            raise CellError(str(value))
        return value

    return read_cell


# ----------------------------------------------------------------------------------------
# Plain cells: the engine's own CSV files


def plain_value(kind: Kind | None, cell: Cell) -> Any:
    """A cell of the engine's own CSV format (docs/scenario-format.md, "Inline or CSV") as the
    field expects it; never raises, so validation names the record and field of a bad value.

    Parameters
    ----------
    kind
        What the field's cells hold (:func:`field_kinds`); ``None`` for an unknown column.
    cell
        A non-empty cell.

    Returns
    -------
    Any
        For numeric kinds, a number (thousands separators ``,`` removed; whole for an integer
        field), or the text as it is when it is not one; for lists, the items split on ``;``
        or ``|``; for booleans, ``True``/``False`` for the :data:`BOOL_WORDS`, or the text;
        otherwise the text verbatim, so an id such as ``007`` stays ``007``.
    """
    if not isinstance(cell, str):
        return _plain_typed(kind, cell)
    if kind == "list":
        return [item.strip() for item in cell.replace("|", ";").split(";") if item.strip()]
    if kind == "boolean":
        return BOOL_WORDS.get(cell.lower(), cell)
    if kind in NUMERIC_KINDS and not (kind == "level" and cell.lower() in LEVELS):
        try:
            number = float(cell.replace(",", ""))
        except ValueError:
            return cell  # validation names the field and the bad value
        return int(number) if kind == "integer" and number.is_integer() else number
    return cell


def _plain_typed(kind: Kind | None, cell: Cell) -> Any:
    """A workbook's typed cell: numbers, booleans and dates stay what they are where the field
    takes them; other fields take their text."""
    if isinstance(cell, float) and kind == "integer" and cell.is_integer():
        return int(cell)
    if kind in (*NUMERIC_KINDS, "boolean", "date"):
        return cell
    return plain_value(kind, cell_text(cell))


# ----------------------------------------------------------------------------------------
# Cells as people write them: exports from a CRM or an HR tool


_CURRENCY = "$€£"
_SUFFIXES = {"k": 3, "m": 6, "b": 9}
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})
# Digits as a US file writes them (1,250,000.50; 1 250 000.5; 1250000; .5; 1.25E+06) and as a
# European one does (1.250.000,50; 1 250 000,5; 1250000; ,5).
_US = re.compile(
    r"\d{1,3}(?P<sep>[, ])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+"
)
_EU = re.compile(r"\d{1,3}(?P<sep>[. ])\d{3}(?:(?P=sep)\d{3})*(?:,\d+)?|\d+(?:,\d+)?|,\d+")


def _accepted(european: bool, percent: bool, suffix: bool) -> str:
    if european:
        return "this file writes numbers the European way: 1.250.000,50"
    extra = (", 1.2M, 450K" if suffix else "") + (", 15%" if percent else "")
    return f"accepted: 1250000, 1,250,000.50, $1,250,000{extra}"


@dataclass(frozen=True)
class _Number:
    """What is left of a number's text once its sign, currency, percent and suffix are off."""

    negative: bool
    digits: str
    percent: bool
    suffix: str


def _strip_number(text: str) -> _Number | None:
    s = text.translate(_SPACES).strip()
    negative = s[:1] == "-"
    if s[:1] in "+-":
        s = s[1:].lstrip()
    if s[:1] and s[:1] in _CURRENCY:
        s = s[1:].lstrip()
    elif len(s) > 2 and s[-1] in _CURRENCY and s[-2] == " ":  # "1.250.000,50 €"
        s = s[:-2].rstrip()
    percent = s.endswith("%")
    if percent:
        s = s[:-1].rstrip()
    suffix = ""
    if s[-1:].lower() in _SUFFIXES and s[:-1].rstrip()[-1:].isdigit():
        suffix, s = s[-1].lower(), s[:-1].rstrip()
    if not s:
        return None
    return _Number(negative, s, percent, suffix)


def number_style(text: str) -> str | None:
    """``us`` or ``eu`` when only that style reads the text as a number, ``both`` when either
    does (1,250 or 1.250 or 250), ``None`` when neither does."""
    parts = _strip_number(text)
    if parts is None:
        return None
    us, eu = _US.fullmatch(parts.digits), _EU.fullmatch(parts.digits)
    if us and eu:
        return "both"
    return "us" if us else "eu" if eu else None


def parse_number(
    text: str, *, european: bool = False, percent: bool = False, suffix: bool = False
) -> float:
    """A number written in a spreadsheet cell, exactly (decimal arithmetic, then one rounding
    to a float).

    Parameters
    ----------
    text
        ``1250000``, ``1,250,000.50``, ``$1,250,000``, ``-€5``, ``1 250 000``, ``1.25E+06``.
    european
        Read ``1.250.000,50`` and ``0,15`` (and no longer ``1,250.50``).
    percent
        Accept ``15%`` (0.15).
    suffix
        Accept ``1.2M``, ``450K``, ``2B``.

    Returns
    -------
    float

    Raises
    ------
    CellError
        A ValueError saying what is accepted.
    """
    parts = _strip_number(text)
    shown = f"{text.strip()!r} is not a number"
    accepted = _accepted(european, percent, suffix)
    if parts is None:
        raise CellError(f"{shown} ({accepted})")
    if parts.percent and not percent:
        raise CellError(f"{shown}: a percentage is accepted only for rates and shares")
    if parts.suffix and not suffix:
        raise CellError(f"{shown}: K, M and B suffixes are accepted only for amounts of money")
    pattern = _EU if european else _US
    if not pattern.fullmatch(parts.digits):
        raise CellError(f"{shown} ({accepted})")
    digits = parts.digits.replace(" ", "")
    digits = digits.replace(".", "").replace(",", ".") if european else digits.replace(",", "")
    try:
        value = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the patterns only let decimals through
        raise CellError(f"{shown} ({accepted})") from None
    if parts.suffix:
        value = value.scaleb(_SUFFIXES[parts.suffix])
    if parts.percent:
        value = value.scaleb(-2)
    return float(-value if parts.negative else value)


_ISO_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_TIME = r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?"
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME)
_DOT_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME)
_DATE_FORMATS: dict[str, str] = {
    "us": "YYYY-MM-DD, MM/DD/YYYY or DD.MM.YYYY",
    "eu": "YYYY-MM-DD, DD/MM/YYYY or DD.MM.YYYY",
    "iso": "YYYY-MM-DD",
}


def parse_date(text: str, date_format: DateFormat = "us") -> dt.date:
    """A date written in a cell.

    Parameters
    ----------
    text
        ``2026-03-04`` (a time after it is ignored), ``03/04/2026`` (month first with ``us``,
        day first with ``eu``, refused with ``iso``) or ``04.03.2026`` (always day first;
        refused with ``iso``).
    date_format
        How ``03/04/2026`` reads.

    Returns
    -------
    datetime.date

    Raises
    ------
    CellError
        A ValueError saying what is accepted, or which order was assumed.
    """
    s = text.strip()
    accepted = f"accepted with --date-format {date_format}: {_DATE_FORMATS[date_format]}"
    slash_order = "MM/DD/YYYY" if date_format == "us" else "DD/MM/YYYY"
    match = _ISO_DATE.fullmatch(s)
    if match:
        year, month, day = (int(g) for g in match.groups())
        what = "YYYY-MM-DD"
    elif date_format != "iso" and (match := _SLASH_DATE.fullmatch(s)):
        a, b, year = (int(g) for g in match.groups())
        month, day = (a, b) if date_format == "us" else (b, a)
        what = slash_order
    elif date_format != "iso" and (match := _DOT_DATE.fullmatch(s)):
        day, month, year = (int(g) for g in match.groups())
        what = "DD.MM.YYYY"
    else:
        raise CellError(f"{s!r} is not a date ({accepted})")
    try:
        return dt.date(year, month, day)
    except ValueError:
        hint = ""
        if what == slash_order:
            other = "eu" if date_format == "us" else "us"
            hint = f"; for {'DD/MM/YYYY' if other == 'eu' else 'MM/DD/YYYY'} dates pass --date-format {other}"
        raise CellError(f"{s!r} is not a valid {what} date{hint}") from None


@dataclass(frozen=True)
class Reading:
    """How the cells of one file are read: numbers the European way or not, and the order of
    the day and the month in ``03/04/2026``."""

    european: bool = False
    date_format: DateFormat = "us"


def parse_cell(kind: Kind | None, cell: Cell, reading: Reading = Reading()) -> Any:
    """A non-empty cell as people write it, read as a field of this kind expects it.

    Parameters
    ----------
    kind
        What the field's cells hold (:func:`field_kinds`); ``None`` reads as text.
    cell
        The cell as read: text, or a workbook's number, boolean or date.
    reading
        European numbers and the date format of the file (:func:`reads_european`).

    Returns
    -------
    Any
        Text stripped; a list of items split on ``;``, ``|`` or ``,``; a date; a boolean; a
        level word in lower case; a whole number for ``integer``; else a float
        (:func:`parse_number`: suffixes for money, percentages for fractions and levels).

    Raises
    ------
    CellError
        Saying what is wrong with the cell and what is accepted.
    """
    if kind is None or kind == "text":
        return cell_text(cell).strip()
    if kind == "list":
        return [item.strip() for item in re.split(r"[;|,]", cell_text(cell)) if item.strip()]
    if kind == "date":
        return _parse_date_cell(cell, reading)
    if kind == "boolean":
        return _parse_boolean_cell(cell)
    if kind == "level" and isinstance(cell, str) and cell.strip().lower() in LEVELS:
        return cell.strip().lower()
    number = _parse_number_cell(kind, cell, reading)
    if kind == "integer":
        if not number.is_integer():
            raise CellError(f"{cell_text(cell)!r} is not a whole number")
        return int(number)
    return number


def _parse_date_cell(cell: Cell, reading: Reading) -> dt.date:
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, bool | int | float):
        raise CellError(
            f"{cell_text(cell)} is a number, not a date (format the column as a date, or "
            "write YYYY-MM-DD)"
        )
    return parse_date(cell_text(cell), reading.date_format)


def _parse_boolean_cell(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    word = cell_text(cell).strip().lower()
    if word in BOOL_WORDS:
        return BOOL_WORDS[word]
    raise CellError(
        f"{cell_text(cell)!r} is not true/false (accepted: true/false, yes/no, y/n, 1/0)"
    )


def _parse_number_cell(kind: Kind, cell: Cell, reading: Reading) -> float:
    if isinstance(cell, bool):
        raise CellError(f"{cell_text(cell)} is not a number")
    if isinstance(cell, int | float):
        return float(cell)
    if isinstance(cell, dt.date):
        raise CellError(f"{cell.isoformat()} is a date, not a number")
    assert cell is not None  # empty cells are never read
    try:
        return parse_number(
            cell,
            european=reading.european,
            percent=kind in ("fraction", "level"),
            suffix=kind == "money",
        )
    except CellError:
        if kind == "level":
            raise CellError(
                f"{cell!r} is not low, medium, high or a probability (0.2 or 20%)"
            ) from None
        raise


def reads_european(table: Table, kinds: Mapping[int, Kind]) -> bool:
    """Whether a file writes its numbers the European way: some text cell of a numeric column
    reads only as European (1.250.000 or 0,15) and none reads only as US (1,250.50).

    Parameters
    ----------
    table
        The table, from :func:`read_sheet`.
    kinds
        Column index -> what its cells hold; only the numeric columns count.

    Returns
    -------
    bool
    """
    styles: Counter[str | None] = Counter(
        number_style(cell) for cell in _number_texts(table, kinds)
    )
    return styles["eu"] > 0 and styles["us"] == 0


def _number_texts(table: Table, kinds: Mapping[int, Kind]) -> Iterable[str]:
    """The text cells of numeric columns that should hold a number (not a level word)."""
    for index, kind in kinds.items():
        if kind not in NUMERIC_KINDS:
            continue
        for cell in table.columns[index]:
            if isinstance(cell, str) and cell and not (kind == "level" and cell.lower() in LEVELS):
                yield cell
