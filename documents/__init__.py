"""What people read and what other systems take: the HTML report, handoff briefs, customer and
internal letters, CRM imports and exports (CSV and XLSX)."""

from .briefs import add_briefs, handoff_briefs, plan_document
from .letters import communications
from .report import render_html
from .templating import TemplateProblem

__all__ = [
    "TemplateProblem",
    "add_briefs",
    "communications",
    "handoff_briefs",
    "plan_document",
    "render_html",
]
