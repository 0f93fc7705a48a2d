"""``python -m cli``: the ``territory`` command."""

import sys

from .app import main

sys.exit(main())
