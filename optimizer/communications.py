"""Customer and internal communications for coverage migrations, from editable Jinja2 templates.

The built-in templates are in ``optimizer/templates``: ``customer_up.txt.j2`` (an account moves
to more attention), ``customer_down.txt.j2`` (to less) and ``internal.md.j2`` (the announcement
to the CS team). A folder given as ``template_dir`` overrides any of them by file name. Templates
run sandboxed, and an undefined name is an error (a misspelt field must not send a letter with
a blank in it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .scenario import Scenario
from .segmentation import SegmentationReport

BUILT_IN = Path(__file__).resolve().parent / "templates"
TEMPLATES = {"up": "customer_up.txt.j2", "down": "customer_down.txt.j2"}
INTERNAL = "internal.md.j2"


class TemplateProblem(ValueError):
    """A template could not be read or rendered; the message names the template and line."""


def template_environment(template_dir: str | Path | None) -> SandboxedEnvironment:
    paths = [str(BUILT_IN)]
    if template_dir is not None:
        folder = Path(template_dir)
        if not folder.is_dir():
            raise TemplateProblem(f"template folder not found: {folder}")
        paths.insert(0, str(folder))
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(paths),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_template(env: SandboxedEnvironment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"template {name}, line {exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        line = _line_of(exc)
        where = f", line {line}" if line else ""
        raise TemplateProblem(f"template {name}{where}: {exc}") from None


def _line_of(exc: BaseException) -> int | None:
    """The template line in the traceback of a rendering error, if any."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


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
