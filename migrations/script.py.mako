"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from arbedb.engine.migration import sql_revision

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}

# The SQL files beside this one are the revision: ${up_revision}_<slug>.up.sql / .down.sql
upgrade, downgrade = sql_revision(__file__)
