"""arbe_private.creation_slots: the rows concurrent creations for one user or house serialise on, instead of advisory locks any role could hold for another tenant

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
