"""Import CRM exports (CSV/XLSX): accounts and a CSM roster as CS teams export them.

:func:`import_tables` reads an accounts file and a CSM roster as CS teams export them from
Salesforce, Gainsight or an HR tool, maps their columns onto the engine's fields (the built-in
:data:`ALIASES`, overridden and extended by a user mapping file), reads the cells as people
write them (``$1,250,000``, ``1.2M``, ``15%``, European ``1.250.000,50``, ``03/04/2026``, with
:mod:`optimizer.tables`), translates owner names and emails into CSM ids, and validates the
result with :meth:`Scenario.from_dict`. Every problem is collected, each naming the file, the
row and the column as a spreadsheet shows them (``accounts.xlsx row 7, column 'Annual
Revenue'``). :func:`write_scenario` writes the scenario in the engine's own format
(``accounts.csv``, ``csms.csv``, ``scenario.json``).

The exports for a CRM (owner updates, books) are in :mod:`documents.exports`. Formats, aliases
and error messages are documented in docs/import-export.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import functools
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.scenario import (
    Account,
    Constraints,
    Csm,
    Objectives,
    Scenario,
    ScenarioError,
    ScenarioIssue,
    SolverSettings,
)
from optimizer.tables import (
    DateFormat,
    Kind,
    Reading,
    Records,
    Table,
    column_letter,
    field_kinds,
    parse_cell,
    read_records,
    read_sheet,
    reads_european,
)

# ----------------------------------------------------------------------------------------
# The column contract

#: How each importable field's cells are read (docs/import-export.md, "Cells"), from the
#: models (:func:`optimizer.tables.field_kinds`): a field added to ``Account`` or ``Csm`` is
#: importable. ``email`` is not a CSM field: it matches owners given by email, and is the id
#: when the roster has no id column. ``workload_by_csm`` and ``preferences`` are mappings, which
#: a cell cannot hold: they are JSON-only.
FIELD_KINDS: dict[str, dict[str, Kind]] = {
    "accounts": field_kinds(Account),
    "csms": {"id": "text", "email": "text", **field_kinds(Csm)},  # email listed next to id
}
#: Fields without which a file cannot be imported (a roster may give ``email`` instead of ``id``).
REQUIRED: dict[str, tuple[str, ...]] = {"accounts": ("id", "arr"), "csms": ("id",)}

#: Built-in column names of common exports, by field. A field's own name is accepted too.
#: Matching ignores case, spaces, underscores and hyphens: "Owner ID", "OwnerId" and
#: "owner_id" are one name.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "accounts": {
        "id": ("Account ID", "Id", "Company ID", "GSID", "Company GSID", "Customer ID"),
        "name": ("Account Name", "Name", "Company Name", "Company", "Customer Name"),
        "arr": (
            "ARR",
            "Annual Recurring Revenue",
            "Annual Revenue",
            "ARR (USD)",
            "Current ARR",
            "Total ARR",
        ),
        "health_score": (
            "Health Score",
            "Overall Score",
            "Health",
            "Customer Health Score",
            "Overall Health Score",
        ),
        "nps": ("NPS", "Net Promoter Score", "NPS Score"),
        "csm_since": (
            "CSM Since",
            "Owner Since",
            "CSM Start Date",
            "Assigned Date",
            "Owner Assigned",
        ),
        "churn_risk": ("Churn Risk", "Risk", "Risk Level", "Churn Probability", "Churn Likelihood"),
        "industry": ("Industry", "Vertical", "Sector"),
        "complexity": ("Complexity", "Account Complexity"),
        "workload": ("Workload", "Effort"),
        "effort_hours": ("Effort Hours", "Hours per Week", "Weekly Hours", "CSM Hours"),
        "renewal_date": ("Renewal Date", "Contract End Date", "Next Renewal Date"),
        "expansion_potential": ("Expansion Potential", "Upsell Potential", "Growth Potential"),
        "region": ("Region", "Billing Region", "Sales Region", "Territory", "Geo"),
        "language": ("Language", "Preferred Language"),
        "latitude": ("Latitude", "Lat", "Billing Latitude", "Shipping Latitude"),
        "longitude": ("Longitude", "Lng", "Lon", "Billing Longitude", "Shipping Longitude"),
        "location": ("Visit Location", "Meeting Location"),
        "visits_per_quarter": ("Visits per Quarter", "In-Person Visits", "Onsite Visits"),
        "required_skills": ("Required Skills",),
        "current_csm": (
            "Account Owner",
            "Owner Name",
            "Owner ID",
            "Owner",
            "Owner Email",
            "CSM",
            "CSM Name",
            "CSM Email",
            "Customer Success Manager",
            "Assigned CSM",
        ),
        "locked": ("Locked", "Do Not Move"),
        "coverage": ("Coverage", "Coverage Model", "Coverage Segment", "CS Segment"),
        "potential_arr": ("Potential ARR", "ARR Potential"),
        "adoption": ("Adoption", "Feature Adoption", "Adoption Rate"),
        "seat_utilization": ("Seat Utilization", "License Utilization"),
        "growth": ("Growth", "Headcount Growth", "Employee Growth"),
        "maturity": ("Maturity", "Customer Maturity"),
        "strategic": ("Strategic", "Strategic Importance"),
        "competitive_risk": ("Competitive Risk", "Competitor Risk"),
    },
    "csms": {
        "id": ("User ID", "CSM ID", "Employee ID", "Id"),
        "email": ("Email", "Email Address", "User Email", "Work Email"),
        "name": ("Full Name", "Name", "CSM Name", "CSM", "Display Name", "Employee Name"),
        "capacity": ("Capacity", "FTE", "FTE Share", "Allocation"),
        "max_accounts": ("Max Accounts", "Account Limit", "Max Book Size"),
        "min_arr": ("Min ARR", "Minimum ARR"),
        "max_arr": ("Max ARR", "Maximum ARR", "ARR Cap"),
        "max_workload": ("Max Workload",),
        "hours_per_week": ("Hours per Week", "Weekly Hours", "Available Hours", "Working Hours"),
        "industries": ("Industries", "Verticals", "Industry", "Industry Expertise"),
        "skills": ("Skills", "Skill Set"),
        "region": ("Region", "Territory", "Geo"),
        "languages": ("Languages", "Language", "Spoken Languages"),
        "latitude": ("Latitude", "Lat", "Home Latitude"),
        "longitude": ("Longitude", "Lng", "Lon", "Home Longitude"),
        "location": ("Home Base", "Base Location", "Travels From"),
        "retention_rate": (
            "Retention Rate",
            "GRR",
            "Gross Retention",
            "Gross Revenue Retention",
        ),
        "expansion_rate": ("Expansion Rate", "NRR uplift", "Net Expansion"),
        "segments": ("Segments", "Coverage Models", "Tiers"),
    },
}

#: Columns common in these exports that have no engine field: skipped without an error (and
#: listed as ignored). Map one in the mapping file to use it.
IGNORED: dict[str, tuple[str, ...]] = {
    "accounts": (
        "Lifecycle Stage",
        "Stage",
        "Status",
        "Account Type",
        "Type",
        "Account Number",
        "Website",
        "Phone",
        "Billing Country",
        "Billing State/Province",
        "Billing City",
        "Billing Street",
        "Billing Zip/Postal Code",
        "Employees",
        "Number of Employees",
        "Customer Since",
        "Description",
        "Parent Account",
        "Created Date",
        "Created By",
        "Last Modified Date",
        "Last Modified By",
        "Last Activity",
    ),
    "csms": (
        "Title",
        "Role",
        "Profile",
        "Manager",
        "Department",
        "Phone",
        "Mobile",
        "Active",
        "Is Active",
        "Username",
        "Alias",
        "Time Zone",
        "Start Date",
        "Created Date",
        "Last Login",
    ),
}

_KIND_NAMES = {"accounts": "account", "csms": "CSM"}


def normalize(name: str) -> str:
    """A column name as matched: case, spaces, underscores and hyphens ignored."""
    return re.sub(r"[\s_\-]+", "", name).casefold()


def _alias_index(kind: str) -> dict[str, str | None]:
    """Normalized column name -> field (``None``: a known column that is skipped)."""
    index: dict[str, str | None] = {normalize(n): None for n in IGNORED[kind]}
    for target, names in ALIASES[kind].items():
        for name in (target, *names):
            index[normalize(name)] = target
    return index


def alias_markdown() -> str:
    """The alias tables of docs/import-export.md, generated from :data:`ALIASES` and
    :data:`IGNORED` (``python -c "from documents.importer import alias_markdown as m; print(m())"``).
    """
    lines: list[str] = []
    for kind, title in (("accounts", "Accounts"), ("csms", "CSMs")):
        lines += [f"#### {title}", "", "| Field | Cells | Column names |", "|---|---|---|"]
        for target, names in ALIASES[kind].items():
            cells = FIELD_KINDS[kind][target]
            shown = ", ".join(f"`{n}`" for n in (target, *names))
            lines.append(f"| `{target}` | {cells} | {shown} |")
        ignored = ", ".join(f"`{n}`" for n in IGNORED[kind])
        lines += ["", f"Known and ignored: {ignored}.", ""]
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------------------
# Import


@dataclass
class FileSummary:
    """What was read from one file: rows, how each column was used, what was skipped."""

    kind: str
    label: str
    rows: int = 0
    #: (column, field, how): how is ``alias``, ``mapping`` or ``field name``.
    mapped: list[tuple[str, str, str]] = field(default_factory=list)
    #: (column, why)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    european_numbers: bool = False


@dataclass
class ImportResult:
    """A validated scenario built from two files, the records as written, and what happened."""

    scenario: Scenario
    data: dict[str, Any]
    files: list[FileSummary]
    #: Owners given as a CSM name or email and translated to the CSM's id: {"name": n, "email": n}.
    owners_translated: dict[str, int]


@dataclass
class _Parsed:
    """One file's records with, for each, its row number, and the problems found."""

    sheet: Table
    summary: FileSummary
    columns: dict[str, str]  # field -> header
    records: list[dict[str, Any]] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    found: list[tuple[int, ScenarioIssue]] = field(default_factory=list)  # (row, issue)
    structural: bool = False  # a problem with the columns: records are not worth validating
    bad: set[tuple[int, str]] = field(default_factory=set)  # (record index, field)

    def bad_fields(self) -> dict[int, set[str]]:
        """Record index -> the fields whose cells were already reported."""
        out: dict[int, set[str]] = defaultdict(set)
        for index, target in self.bad:
            out[index].add(target)
        return out

    def add(self, row: int, path: str, message: str) -> None:
        self.found.append((row, ScenarioIssue(path=path, message=message)))

    @property
    def issues(self) -> list[ScenarioIssue]:
        """The problems in row order (those about the whole file first)."""
        return [issue for _, issue in sorted(self.found, key=lambda f: f[0])]

    def where(
        self, row: int | Sequence[int], target: str | None = None, header: str | None = None
    ) -> str:
        """``accounts.xlsx row 7, column 'Annual Revenue'`` (``rows 2 and 9`` for several)."""
        header = header if header is not None else self.columns.get(target or "")
        return self.sheet.where(row, header)


def _fail(label: str, message: str) -> ScenarioError:
    return ScenarioError([ScenarioIssue(path=label, message=message)])


def load_mapping(path: str | Path) -> dict[str, dict[str, str | None]]:
    """A mapping file: ``{"accounts": {"Their Column": "field" | null}, "csms": {...}}``.

    Raises :class:`ScenarioError` listing every unknown section, field or malformed entry.
    """
    path = Path(path)
    label = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise _fail(label, f"mapping file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(label, f"cannot read the mapping file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise _fail(
            label, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    return check_mapping(data, label)


def check_mapping(data: Any, label: str = "mapping") -> dict[str, dict[str, str | None]]:
    """A mapping's content checked and keyed by normalized column name; raises
    :class:`ScenarioError` listing every unknown section, field or malformed entry."""
    example = '{"accounts": {"Their Column": "arr"}, "csms": {"Their Column": null}}'
    if not isinstance(data, Mapping):
        raise _fail(label, f"a mapping file is a JSON object such as {example}")
    issues: list[ScenarioIssue] = []
    mapping: dict[str, dict[str, str | None]] = {}
    for section, entries in data.items():
        if section not in FIELD_KINDS:
            issues.append(
                ScenarioIssue(
                    path=f"{label}: {section}",
                    message="unknown section (the sections are 'accounts' and 'csms')",
                )
            )
            continue
        if not isinstance(entries, Mapping):
            issues.append(
                ScenarioIssue(
                    path=f"{label}: {section}",
                    message=f'expected an object {{"Column": "field" or null}}, got {entries!r}',
                )
            )
            continue
        fields = FIELD_KINDS[section]
        for column, target in entries.items():
            if target is None or (isinstance(target, str) and target in fields):
                mapping.setdefault(section, {})[normalize(column)] = target
                continue
            close = difflib.get_close_matches(str(target), list(fields), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            issues.append(
                ScenarioIssue(
                    path=f"{label}: {section}.{column}",
                    message=f"{target!r} is not an importable {_KIND_NAMES[section]} field "
                    f"({hint}the fields are {', '.join(fields)}; null ignores the column)",
                )
            )
    if issues:
        raise ScenarioError(issues)
    return mapping


def _suggest(kind: str, header: str) -> str:
    """``did you mean 'Account Name' (name)?`` from the aliases close to ``header``."""
    names: dict[str, tuple[str, str]] = {}
    for target, aliases in ALIASES[kind].items():
        for name in (target, *aliases):
            names.setdefault(normalize(name), (name, target))
    close = difflib.get_close_matches(normalize(header), list(names), n=3, cutoff=0.6)
    if not close:
        return ""
    shown = ", ".join(
        f"{names[c][0]!r}" + (f" ({names[c][1]})" if names[c][0] != names[c][1] else "")
        for c in close
    )
    return f"did you mean {shown}? "


def _map_columns(
    sheet: Table,
    kind: str,
    mapping: Mapping[str, str | None],
    ignore_unknown: bool,
    summary: FileSummary,
) -> tuple[dict[int, str], list[tuple[int, ScenarioIssue]]]:
    """Column index -> field, and the problems with the columns themselves (with their row:
    the header's, or 0 for the file)."""
    aliases = _alias_index(kind)
    columns: dict[int, str] = {}
    first: dict[str, int] = {}
    issues: list[tuple[int, ScenarioIssue]] = []
    where = f"{sheet.label} row {sheet.header_row}"
    for index, header in enumerate(sheet.headers):
        if not header:
            filled = sheet.filled(index)
            if filled:
                issues.append(
                    (
                        sheet.header_row,
                        ScenarioIssue(
                            path=f"{where}, column {column_letter(index)}",
                            message=f"a column without a header holds data (row {filled[0]}): "
                            "name it in the header row, or delete it",
                        ),
                    )
                )
            continue
        key = normalize(header)
        if key in mapping:
            target, how = mapping[key], "mapping"
            if target is None:
                summary.ignored.append((header, "mapping file"))
                continue
        elif key in aliases:
            target = aliases[key]
            how = "field name" if target is not None and key == normalize(target) else "alias"
            if target is None:
                summary.ignored.append((header, "known column without an engine field"))
                continue
        elif ignore_unknown:
            summary.ignored.append((header, "unknown (--ignore-unknown)"))
            continue
        else:
            section = json.dumps({kind: {header: "FIELD"}})
            issues.append(
                (
                    sheet.header_row,
                    ScenarioIssue(
                        path=f"{where}, column {header!r}",
                        message=f"unknown column: {_suggest(kind, header)}Add it to the mapping file "
                        f"(--mapping) as {section} with one of the fields listed in "
                        "docs/import-export.md, or null to ignore it; or pass --ignore-unknown to "
                        "skip unknown columns",
                    ),
                )
            )
            continue
        if target in first:
            other = sheet.headers[first[target]]
            issues.append(
                (
                    sheet.header_row,
                    ScenarioIssue(
                        path=f"{where}, column {header!r}",
                        message=f"maps to {target}, like column {other!r}: keep one of them (map the "
                        "other to null in the mapping file)",
                    ),
                )
            )
            continue
        first[target] = index
        columns[index] = target
        summary.mapped.append((header, target, how))
    present = set(columns.values())
    for target in REQUIRED[kind]:
        if target in present or (kind == "csms" and target == "id" and "email" in present):
            continue
        examples = ", ".join(repr(n) for n in ALIASES[kind][target][:3])
        also = " (or an email column)" if kind == "csms" else ""
        seen = ", ".join(repr(h) for h in sheet.headers if h)
        issues.append(
            (
                0,
                ScenarioIssue(
                    path=sheet.label,
                    message=f"no column for the required field {target}{also}: name one {examples}, "
                    f"or map yours to {target!r} in the mapping file (the columns are {seen})",
                ),
            )
        )
    return columns, issues


def _parse_file(
    path: str | Path,
    kind: str,
    mapping: Mapping[str, str | None],
    ignore_unknown: bool,
    date_format: DateFormat,
) -> _Parsed:
    sheet = read_sheet(path)
    summary = FileSummary(kind=kind, label=sheet.label)
    columns, issues = _map_columns(sheet, kind, mapping, ignore_unknown, summary)
    kinds = {index: FIELD_KINDS[kind][target] for index, target in columns.items()}
    reading = Reading(european=reads_european(sheet, kinds), date_format=date_format)
    summary.european_numbers = reading.european
    cells = _read_cells(sheet, columns, kinds, reading)
    if kind == "csms" and "id" not in columns.values():
        for record in cells.records:
            if "email" in record:
                record["id"] = record["email"]
    parsed = _Parsed(
        sheet=sheet,
        summary=summary,
        columns={target: sheet.headers[i] for i, target in columns.items()},
        records=cells.records,
        row_numbers=list(sheet.row_numbers),
        found=issues + cells.problems,
        structural=bool(issues),
        bad=cells.bad,
    )
    summary.rows = len(parsed.records)
    if not parsed.records and not parsed.structural:
        parsed.add(0, sheet.label, "no data rows below the header row")
    _duplicate_ids(parsed, kind)
    return parsed


def _read_cells(
    sheet: Table, columns: Mapping[int, str], kinds: Mapping[int, Kind], reading: Reading
) -> Records:
    """The mapped columns' cells read as people write them; each cell that cannot be read is a
    problem naming its row and column."""
    fields = {index: (target, kinds[index]) for index, target in sorted(columns.items())}
    read = functools.partial(parse_cell, reading=reading)
    return read_records(sheet, fields, read, remember=True)


def _duplicate_ids(parsed: _Parsed, kind: str) -> None:
    rows: dict[str, list[int]] = defaultdict(list)
    for record, row in zip(parsed.records, parsed.row_numbers, strict=True):
        if isinstance(record.get("id"), str) and record["id"]:
            rows[record["id"]].append(row)
    for record_id, found in rows.items():
        if len(found) > 1:
            listed = ", ".join(str(r) for r in found[:-1]) + f" and {found[-1]}"
            id_column = parsed.columns.get("id") or parsed.columns.get("email")
            parsed.add(
                found[-1],
                parsed.where(found[-1], header=id_column),
                f"duplicate {_KIND_NAMES[kind]} id {record_id!r}: rows {listed}",
            )


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _translate_owners(accounts: _Parsed, csms: _Parsed) -> dict[str, int]:
    """Owners given as a CSM name or email become the CSM's id; an owner that matches no
    CSM id, name or email is reported with its row and the closest names."""
    ids = [r["id"] for r in csms.records if isinstance(r.get("id"), str)]
    exact = set(ids)
    lookups: list[tuple[str, dict[str, set[str]]]] = []
    for what, key in (("id", "id"), ("email", "email"), ("name", "name")):
        table: dict[str, set[str]] = defaultdict(set)
        for record in csms.records:
            value, csm_id = record.get(key), record.get("id")
            if isinstance(value, str) and value and isinstance(csm_id, str):
                table[_fold(value)].add(csm_id)
        lookups.append((what, table))
    known = sorted({str(r[k]) for r in csms.records for k in ("id", "email", "name") if r.get(k)})
    translated = {"name": 0, "email": 0}
    roster = csms.sheet.label
    for index, record in enumerate(accounts.records):
        owner = record.get("current_csm")
        if not isinstance(owner, str) or not owner or owner in exact:
            continue
        row = accounts.row_numbers[index]
        where = accounts.where(row, "current_csm")
        for what, table in lookups:
            found = table.get(_fold(owner))
            if not found:
                continue
            if len(found) > 1:
                accounts.add(
                    row,
                    where,
                    f"owner {owner!r} matches the {what} of {len(found)} CSMs "
                    f"({', '.join(sorted(found))}) in {roster}: use their ids or emails",
                )
                accounts.bad.add((index, "current_csm"))
            else:
                record["current_csm"] = next(iter(found))
                if what != "id":
                    translated[what] += 1
            break
        else:
            close = difflib.get_close_matches(owner, known, n=3, cutoff=0.6)
            hint = f" (close: {', '.join(repr(c) for c in close)})" if close else ""
            accounts.add(
                row,
                where,
                f"owner {owner!r} matches no CSM id, name or email in {roster}"
                f"{hint}: add the CSM to the roster, or correct the owner",
            )
            accounts.bad.add((index, "current_csm"))
    return translated


def _defaults() -> dict[str, Any]:
    """Objective weights, rules and solver settings of an imported scenario: the engine's
    defaults, written out so they can be edited (weights as percentages, rules off as null)."""
    weights = {k: round(v * 100, 6) for k, v in Objectives().model_dump().items()}
    return {
        "objectives": {k: int(v) if float(v).is_integer() else v for k, v in weights.items()},
        "constraints": Constraints().model_dump(mode="json"),
        "solver": SolverSettings().model_dump(mode="json", exclude_none=True),
    }


def import_tables(
    accounts: str | Path,
    csms: str | Path,
    *,
    mapping: str | Path | Mapping[str, Mapping[str, str | None]] | None = None,
    ignore_unknown: bool = False,
    date_format: DateFormat = "us",
    name: str = "imported",
    as_of: dt.date | None = None,
) -> ImportResult:
    """Read an accounts file and a CSM roster (CSV or XLSX), map, parse and validate them.

    ``mapping`` is a mapping file's path or its content; it overrides and extends
    :data:`ALIASES`. ``as_of`` defaults to today (written into the scenario, so later runs
    repeat). Raises :class:`ScenarioError` with every problem found in both files.
    """
    if mapping is None:
        user: Mapping[str, Mapping[str, str | None]] = {}
    elif isinstance(mapping, Mapping):
        user = check_mapping(mapping)
    else:
        user = load_mapping(mapping)
    parsed: dict[str, _Parsed] = {}
    unreadable: list[ScenarioIssue] = []
    for kind, path in (("accounts", accounts), ("csms", csms)):
        try:
            parsed[kind] = _parse_file(path, kind, user.get(kind, {}), ignore_unknown, date_format)
        except ScenarioError as exc:
            unreadable.extend(exc.issues)
    if unreadable:
        found = [i for p in parsed.values() for i in p.issues]
        raise ScenarioError(unreadable + found)
    acc, team = parsed["accounts"], parsed["csms"]
    translated = {"name": 0, "email": 0}
    if not team.structural:
        translated = _translate_owners(acc, team)
    issues = acc.issues + team.issues
    csm_records = [{k: v for k, v in r.items() if k != "email"} for r in team.records]
    data: dict[str, Any] = {
        "name": name,
        "description": f"Imported from {acc.sheet.label} and {team.sheet.label}.",
        "as_of": (as_of or dt.date.today()).isoformat(),
        **_defaults(),
        "csms": csm_records,
        "accounts": acc.records,
    }
    if acc.structural or team.structural:
        raise ScenarioError(issues)
    try:
        scenario = Scenario.from_dict(_without_bad_cells(data, parsed))
    except ScenarioError as exc:
        raise ScenarioError(issues + _located(exc.issues, data, parsed)) from None
    if issues:
        raise ScenarioError(issues)
    return ImportResult(
        scenario=scenario,
        data=data,
        files=[acc.summary, team.summary],
        owners_translated=translated,
    )


def _without_bad_cells(data: dict[str, Any], parsed: Mapping[str, _Parsed]) -> dict[str, Any]:
    """The records without the cells already reported, so validation reports the rest."""
    out = dict(data)
    for kind in ("accounts", "csms"):
        bad = parsed[kind].bad_fields()
        records = []
        for index, record in enumerate(data[kind]):
            # An owner that matches no CSM stays: its issue is dropped in _located instead.
            drop = bad.get(index, set()) - {"current_csm"}
            records.append({k: v for k, v in record.items() if k not in drop})
        out[kind] = records
    return out


def _located(
    issues: Iterable[ScenarioIssue], data: Mapping[str, Any], parsed: Mapping[str, _Parsed]
) -> list[ScenarioIssue]:
    """Validation issues with the file, row and column of the cell they are about; issues
    about cells already reported (a number that did not parse, an unknown owner, a duplicate
    id) are dropped. Records that share an id share a label: their rows are all named."""
    places: dict[str, list[tuple[_Parsed, int, set[str]]]] = defaultdict(list)
    for kind in ("accounts", "csms"):
        p = parsed[kind]
        bad = p.bad_fields()
        for index, record in enumerate(data[kind]):
            record_id = record.get("id")
            label = f"{kind}[{record_id}]" if record_id not in (None, "") else f"{kind}[{index}]"
            places[label].append((p, p.row_numbers[index], bad.get(index, set())))
    out = []
    for issue in issues:
        # The record's label ends at the first "]" that closes a known label ("accounts[A7]").
        found = next(
            (
                issue.path[: m.end()]
                for m in re.finditer(r"\]", issue.path)
                if issue.path[: m.end()] in places
            ),
            None,
        )
        if found is None or issue.path[len(found) : len(found) + 1] not in ("", "."):
            out.append(issue)
            continue
        target = issue.path[len(found) + 1 :].split(".")[0] or None
        shared = places[found]
        if any(target in reported for _, _, reported in shared):
            continue
        if len(shared) > 1 and target == "id":
            continue  # a duplicate id, reported with its rows
        rows = [row for _, row, _ in shared]
        where = shared[0][0].where(rows[0] if len(rows) == 1 else rows, target)
        out.append(ScenarioIssue(path=issue.path, message=f"{issue.message} ({where})"))
    return out


def _engine_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _engine_csv(records: Sequence[Mapping[str, Any]], fields: Iterable[str]) -> str:
    """Records as a CSV the engine reads (docs/scenario-format.md, "Inline or CSV"): its own
    column names, lists joined with ``;``. Cells are written as they are, so the scenario reads
    back exactly (these are input files, not exports for people)."""
    present = [f for f in fields if any(f in r for r in records)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(present)
    for record in records:
        writer.writerow([_engine_cell(record[f]) if f in record else "" for f in present])
    return out.getvalue()


def write_scenario(result: ImportResult, out_dir: str | Path) -> list[Path]:
    """Write ``accounts.csv``, ``csms.csv`` and ``scenario.json`` (which names them) into
    ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = result.data
    scenario = {k: v for k, v in data.items() if k not in ("accounts", "csms")}
    scenario.update({"csms": "csms.csv", "accounts": "accounts.csv"})
    files = {
        "accounts.csv": _engine_csv(data["accounts"], Account.model_fields),
        "csms.csv": _engine_csv(data["csms"], Csm.model_fields),
        "scenario.json": json.dumps(scenario, indent=2) + "\n",
    }
    written = []
    for file_name, text in files.items():
        path = out / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
