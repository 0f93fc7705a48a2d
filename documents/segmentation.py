"""The segmentation report as files: one CSV table per section, safe to open in a
spreadsheet (docs/segmentation.md, "Output files")."""

from __future__ import annotations

from typing import Any

from coverage.segmentation import SegmentationReport, paused_gc, plain

from .exports import to_csv


def tables(report: SegmentationReport) -> dict[str, str]:
    """The report as CSV files (name -> text), safe to open in a spreadsheet."""
    with paused_gc():
        return _tables(report)


def _tables(report: SegmentationReport) -> dict[str, str]:
    value_dims = [f.dimension for f in report.accounts[0].value.factors] if report.accounts else []
    need_dims = [f.dimension for f in report.accounts[0].need.factors] if report.accounts else []
    rows = []
    for r in report.accounts:
        row: dict[str, Any] = {
            "account_id": r.account_id,
            "name": r.name,
            "arr": round(r.arr, 2),
            "current_csm": r.current_csm,
            "value_score": round(r.value.score, 4),
            "tier": r.tier,
            "need_score": round(r.need.score, 4),
            "segment": r.segment,
            "expansion_score": round(r.expansion.score, 4),
            "current": r.current,
            "recommended": r.recommended,
            "alignment": r.alignment,
            "levels": r.levels,
            "impact": round(r.impact, 2),
            "missing": sorted(
                {f.dimension for f in (*r.value.factors, *r.need.factors) if f.missing}
            ),
        }
        for f in r.value.factors:
            row[f"value.{f.dimension}"] = round(f.contribution, 4)
        for f in r.need.factors:
            row[f"need.{f.dimension}"] = round(f.contribution, 4)
        rows.append(row)
    segment_columns = [
        "account_id",
        "name",
        "arr",
        "current_csm",
        "value_score",
        "tier",
        "need_score",
        "segment",
        "expansion_score",
        "current",
        "recommended",
        "alignment",
        "levels",
        "impact",
        *(f"value.{d}" for d in value_dims),
        *(f"need.{d}" for d in need_dims),
        "missing",
    ]
    capacity = [
        {**plain(m), "gap": round(m.gap, 3), "fte_needed": round(m.fte_needed, 3)}
        for m in report.capacity.models
    ]
    loads = [
        {
            **plain(c),
            "utilization_current": round(c.utilization_current, 3),
            "utilization_recommended": round(c.utilization_recommended, 3),
        }
        for c in report.capacity.csms
    ]
    migrations = [{**plain(m), "exception": m.exception} for m in report.migrations]
    return {
        "segments.csv": to_csv(rows, segment_columns),
        "capacity.csv": to_csv(
            capacity,
            ["name", "named", "accounts", "arr", "fte_needed", "fte_staffed", "gap", "cadence"],
        ),
        "csm_utilization.csv": to_csv(
            loads,
            [
                "csm_id",
                "name",
                "capacity",
                "accounts",
                "arr",
                "serves",
                "utilization_current",
                "utilization_recommended",
                "state",
            ],
        ),
        "capacity_actions.csv": to_csv(
            [plain(a) for a in report.capacity.actions],
            ["kind", "fte", "from_model", "to_model", "text"],
        ),
        "expansion.csv": to_csv(
            [plain(e) for e in report.expansion],
            [
                "rank",
                "account_id",
                "name",
                "arr",
                "headroom",
                "score",
                "trigger",
                "owner",
                "current_csm",
            ],
        ),
        "migrations.csv": to_csv(
            migrations,
            [
                "account_id",
                "name",
                "direction",
                "from_model",
                "to_model",
                "arr",
                "current_csm",
                "renewal_date",
                "days_to_renewal",
                "churn_risk",
                "exception",
                "timing",
                "notes",
            ],
        ),
    }
