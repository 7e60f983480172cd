"""Indexes so every policy is an index scan for every caller: both arms of the houses and members ORs, and house_id on every table

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

from arbedb.engine.migration import sql_revision

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

upgrade, downgrade = sql_revision(__file__)
