"""The ``territory`` command: parse, call the engine, print (see README.md, "CLI")."""

from .main import main

__all__ = ["main"]
