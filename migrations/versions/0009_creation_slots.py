"""arbe_private.creation_slots: the rows concurrent creations for one user or house serialise on, instead of advisory locks any role could hold for another tenant

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from arbedb.engine.migration import sql_revision

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
