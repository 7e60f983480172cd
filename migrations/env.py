"""Alembic environment: all behaviour lives in arbedb.engine.runtime (shared with `arbedb apply`)."""

from alembic import context

from arbedb.engine.runtime import run

run(context)
