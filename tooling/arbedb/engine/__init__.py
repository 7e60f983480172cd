"""The apply engine, one module per job, under the command layer (``arbedb.commands``).

``runtime`` is what ``migrations/env.py`` hands control to (one transaction, the apply
lock of ``lock``, revisions, declarative layer, bookkeeping); ``direct`` runs the template's
revisions without alembic for ``arbedb apply``; ``migration`` is what revision files
import (``sql_revision``); ``declarative`` reads and records policies/, triggers/,
electric/; ``sqlexec`` runs SQL files statement by statement with file:line errors;
``catalog`` fingerprints what the project owns in a database.
"""
