"""Alembic environment: all behaviour lives in arbedb.runtime (shared with `arbedb apply`)."""

from alembic import context

from arbedb.runtime import run

run(context)
