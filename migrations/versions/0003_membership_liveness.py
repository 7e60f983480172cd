"""members.house_deleted_at: a membership carries its house's liveness, so the RLS membership lookup is one index-only scan

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from arbedb.engine.migration import sql_revision

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
