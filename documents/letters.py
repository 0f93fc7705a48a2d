"""Customer and internal communications for coverage migrations, from editable Jinja2 templates.

The built-in templates are in ``documents/templates``: ``customer_up.txt.j2`` (an account moves
to more attention), ``customer_down.txt.j2`` (to less) and ``internal.md.j2`` (the announcement
to the CS team). A folder given as ``template_dir`` overrides any of them by file name. Templates
run sandboxed, and an undefined name is an error (a misspelt field must not send a letter with
a blank in it).
"""

from __future__ import annotations

import re
from pathlib import Path

from coverage.segmentation import SegmentationReport
from optimizer.scenario import Scenario

from .templating import render_template, template_environment

TEMPLATES = {"up": "customer_up.txt.j2", "down": "customer_down.txt.j2"}
INTERNAL = "internal.md.j2"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "_"


def communications(
    scenario: Scenario,
    report: SegmentationReport,
    *,
    template_dir: str | Path | None = None,
    sender: str = "The Customer Success team",
) -> dict[str, str]:
    """Every message for the report's migrations: ``customer/<account>-<up|down>.txt`` for each
    account and ``internal.md``; keys are relative file paths, values the texts."""
    env = template_environment(template_dir)
    accounts = {a.id: a for a in scenario.accounts}
    csms = {c.id: c for c in scenario.csms}
    models = {m.name: m for m in scenario.segmentation.models()}
    out: dict[str, str] = {}
    for migration in report.migrations:
        account = accounts[migration.account_id]
        context = {
            "account": account,
            "migration": migration,
            "model": models[migration.to_model],
            "previous": models[migration.from_model],
            "csm": csms.get(account.current_csm) if account.current_csm else None,
            "sender": sender,
            "scenario": scenario.name,
            "as_of": report.as_of,
        }
        name = f"customer/{_safe(migration.account_id)}-{migration.direction}.txt"
        out[name] = render_template(env, TEMPLATES[migration.direction], context)
    out["internal.md"] = render_template(
        env,
        INTERNAL,
        {
            "scenario": scenario.name,
            "as_of": report.as_of,
            "scheme": report.scheme,
            "up": [m for m in report.migrations if m.direction == "up"],
            "down": [m for m in report.migrations if m.direction == "down"],
            "exceptions": [m for m in report.migrations if m.exception],
            "misalignment": report.misalignment,
            "actions": report.capacity.actions,
            "sender": sender,
        },
    )
    return out
