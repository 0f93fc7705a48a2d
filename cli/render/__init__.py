"""Every table and printout of the ``territory`` command, one module per command group.

Rendering only: these functions format results the commands already have; none calls the engine.
"""
