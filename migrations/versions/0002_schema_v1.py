"""schema v1: the nine house-scoped tables, their indexes and the private credential tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from arbedb.engine.migration import sql_revision

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
