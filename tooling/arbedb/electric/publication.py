"""What the apply transaction hands electric/*.sql: the publication's name, the
synced tables, and Electric's role name and password.

SQL files run verbatim, so these travel as transaction-local settings
(``arbedb.publication``, ``arbedb.synced_tables``, ``arbedb.electric_role``,
``arbedb.electric_password``) the files read with ``current_setting``. The
synced tables are electric/shapes.toml's ``[tables.*]``: declared once, there.
The password goes as a SCRAM-SHA-256 verifier computed by libpq here: the plain
text never reaches the server, its logs or pg_stat_activity.
"""

from __future__ import annotations

import os
import re

from ..config import Project
from ..errors import ArbedbError

ROLE_DEFAULT = "electric"
PASSWORD_ENV = "ARBEDB_ELECTRIC_PASSWORD"


def role_name(project: Project) -> str:
    """``[tool.arbedb].electric_role``, default ``electric``."""
    name = project.extra.get("electric_role", ROLE_DEFAULT)
    # It is spliced into the prelude's SQL text, so only plain identifiers pass.
    if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ArbedbError(f"[tool.arbedb] electric_role = {name!r}: use a lower-case identifier, e.g. \"electric\"")
    return name


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def prelude_sql(project: Project) -> str:
    """The settings electric/10_publication.sql and electric/20_role.sql read. No
    shapes.toml, no synced tables: a project without the electric/ layer still
    applies, and electric/10_publication.sql refuses an empty list itself."""
    from .shapes import load_shapes, shapes_path

    synced = ",".join(sorted(load_shapes(project).qualified_names)) if shapes_path(project).is_file() else ""
    return (f"SELECT set_config('arbedb.publication', {_literal(project.publication)}, true);\n"
            f"SELECT set_config('arbedb.synced_tables', {_literal(synced)}, true);\n"
            f"SELECT set_config('arbedb.electric_role', {_literal(role_name(project))}, true);\n")


def send_password(conn, project: Project) -> bool:
    """Set ``arbedb.electric_password`` for this transaction when $ARBEDB_ELECTRIC_PASSWORD is set."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        return False
    verifier = conn.pgconn.encrypt_password(password.encode(), role_name(project).encode(), b"scram-sha-256")
    conn.execute("SELECT set_config('arbedb.electric_password', %s, true)", (verifier.decode(),))
    return True
