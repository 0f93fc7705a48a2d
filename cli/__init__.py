"""The ``territory`` command: parse, call the engine, print (see README.md, "CLI").

``app`` parses and dispatches, ``parser`` holds the argparse tree, ``commands/`` one module per
command group, ``render/`` every table and printout.
"""

from .app import main

__all__ = ["main"]
