"""Which database a command talks to: --dsn, else DATABASE_URL, else the embedded server.

Every connection string is checked here before anything connects (one line for a DSN
that is not PostgreSQL's), and every connection the tool opens has a connect timeout
(``PGCONNECT_TIMEOUT``, which libpq and psycopg both read): a port where something else
answers would otherwise hold the command silent for psycopg's default 130 s.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass

from .config import Project
from .errors import ArbedbError, first_line
from .server import project_server

CONNECT_TIMEOUT = 10  # seconds; a dsn's own connect_timeout or PGCONNECT_TIMEOUT wins
URL_SCHEMES = ("postgresql://", "postgres://")
FORMS = "a postgresql://user@host:port/dbname URL or key=value conninfo (host=… dbname=…)"


@dataclass(frozen=True)
class Target:
    dsn: str
    origin: str  # "--dsn", "DATABASE_URL" or the embedded server's description


def default_connect_timeout() -> None:
    """Give every connection of this process (and of the processes it starts) a connect timeout."""
    os.environ.setdefault("PGCONNECT_TIMEOUT", str(CONNECT_TIMEOUT))


def check_dsn(dsn: str, origin: str = "the connection string") -> str:
    """``dsn`` when psycopg can use it as a PostgreSQL connection string; else one line saying so.
    The message never repeats the string: it may hold a password."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    if not dsn.strip():
        raise ArbedbError(f"{origin} is empty: give {FORMS}, or leave it out to use the local server")
    scheme = dsn.split("://", 1)[0] if "://" in dsn.split("=", 1)[0] else None
    if scheme is not None and not dsn.startswith(URL_SCHEMES):
        raise ArbedbError(f"{origin} is a {scheme}:// URL, not a PostgreSQL one: give {FORMS}")
    try:
        conninfo_to_dict(dsn)
    except ProgrammingError as exc:
        # psycopg quotes the piece it stumbled on: it may be part of a password, so it goes.
        reason = re.sub(r'"[^"]*"', '"…"', str(exc).strip().splitlines()[0]) if str(exc).strip() else "unreadable"
        raise ArbedbError(f"{origin} is not a PostgreSQL connection string ({reason}): give {FORMS}") from None
    return dsn


def where(dsn: str) -> str:
    """``dbname on host:port``, for messages (never the password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - only ever used on a dsn check_dsn accepted
        return "the database"
    host = params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    return f"database {params.get('dbname') or params.get('user') or 'postgres'} on {host}:{port}"


def resolve_dsn(project: Project, dsn: str | None = None, *, start: bool = True) -> Target:
    """``dsn`` (None: not given; "" is an error, not "use the local server"), else DATABASE_URL,
    else the local server (started when ``start``)."""
    if dsn is not None:
        return Target(check_dsn(dsn, "--dsn"), "--dsn")
    env = os.environ.get("DATABASE_URL")
    if env is not None:
        return Target(check_dsn(env, "DATABASE_URL"), "DATABASE_URL")
    server = project_server(project)
    if start:
        url = server.start()
    elif server.is_running():
        url = server.url()
    else:
        raise ArbedbError("no database: pass --dsn, set DATABASE_URL, or start the local one with `arbedb db start`")
    return Target(url, f"local server, {server.binaries.describe()}, data in {server.data}")


def open_connection(dsn: str, **kwargs):
    """A psycopg connection, or one line saying why there is none."""
    import psycopg

    check_dsn(dsn)
    default_connect_timeout()
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as exc:
        first = first_line(exc)
        if "timeout expired" in first:
            first = (f"nothing answered as PostgreSQL within {os.environ['PGCONNECT_TIMEOUT']}s: "
                     "is that the server's host and port?")
        raise ArbedbError(f"cannot connect to the {where(dsn)} ({first}); check --dsn / DATABASE_URL") from None


@contextmanager
def connect(dsn: str, **kwargs):
    conn = open_connection(dsn, **kwargs)
    try:
        yield conn
    finally:
        conn.close()
