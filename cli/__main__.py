"""``python -m cli``: the ``territory`` command."""

import sys

from .main import main

sys.exit(main())
