"""auth compatibility: Supabase's roles, auth schema and claim functions where missing

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from arbedb.engine.migration import sql_revision

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
