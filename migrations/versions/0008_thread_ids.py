"""arbe_private.thread_ids: every thread id ever used, with its house, so an id once used never names another house's thread (its durable stream outlives a hard delete)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from arbedb.engine.migration import sql_revision

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
