"""The commands, one module per group; each ``cmd_*`` takes the parsed options, the output
console and the error console, and returns an exit code (``cli.exits``).

Modules that need ``api``, ``documents.importer`` or ``documents.report`` import them inside the
command, so that ``territory solve`` does not pay for loading them.
"""
