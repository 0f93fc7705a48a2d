"""Editable Jinja2 templates for the documents people read (letters, handoff briefs).

The built-in templates are in ``documents/templates``; a folder given as ``template_dir``
overrides any of them by file name. Templates run sandboxed, and an undefined name is an error
(a misspelt field must not send a letter with a blank in it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

BUILT_IN = Path(__file__).resolve().parent / "templates"


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
