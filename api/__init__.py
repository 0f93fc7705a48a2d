"""The HTTP API (FastAPI): ``create_app(settings)``, served by ``territory serve``.

See docs/api.md for the endpoints, the settings and the job lifecycle.
"""

from .app import create_app, run
from .settings import Settings

__all__ = ["Settings", "create_app", "run"]
