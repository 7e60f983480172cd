"""arbe_private.secret_values.sealed: secret values are stored sealed (encrypted and authenticated) under a key the database never holds

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from arbedb.engine.migration import sql_revision

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
