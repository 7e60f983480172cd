"""api_keys.house_deleted_at and agent_deleted_at: a key carries its house's and agent's liveness, so the per-statement key check is one primary-key lookup

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from arbedb.engine.migration import sql_revision

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
