"""What the apply transaction hands electric/20_role.sql: the role's name and password.

SQL files run verbatim, so these travel as transaction-local settings
(``arbedb.electric_role``, ``arbedb.electric_password``) the file reads with
``current_setting``. The password goes as a SCRAM-SHA-256 verifier computed by
libpq here: the plain text never reaches the server, its logs or pg_stat_activity.
"""

from __future__ import annotations

import os
import re

from .config import Project
from .errors import ArbedbError

ROLE_DEFAULT = "electric"
PASSWORD_ENV = "ARBEDB_ELECTRIC_PASSWORD"


def role_name(project: Project) -> str:
    """``[tool.arbedb].electric_role``, default ``electric``."""
    name = project.extra.get("electric_role", ROLE_DEFAULT)
    # It is spliced into the prelude's SQL text, so only plain identifiers pass.
    if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ArbedbError(f"[tool.arbedb] electric_role = {name!r}: use a lower-case identifier, e.g. \"electric\"")
    return name


def prelude_sql(project: Project) -> str:
    return f"SELECT set_config('arbedb.electric_role', '{role_name(project)}', true);\n"


def send_password(conn, project: Project) -> bool:
    """Set ``arbedb.electric_password`` for this transaction when $ARBEDB_ELECTRIC_PASSWORD is set."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        return False
    verifier = conn.pgconn.encrypt_password(password.encode(), role_name(project).encode(), b"scram-sha-256")
    conn.execute("SELECT set_config('arbedb.electric_password', %s, true)", (verifier.decode(),))
    return True
