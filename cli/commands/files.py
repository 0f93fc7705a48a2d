"""Files the commands write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, creating the folder; dates and paths become strings.

    Parameters
    ----------
    path : Path
        The file.
    data : Any
        A JSON-like value (a plan document, a report).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
