"""Which database a command talks to: --dsn, else DATABASE_URL, else the embedded server."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from .config import Project, database_url_from_env
from .errors import ArbedbError
from .server import project_server


@dataclass(frozen=True)
class Target:
    dsn: str
    origin: str  # "--dsn", "DATABASE_URL" or the embedded server's description


def resolve_dsn(project: Project, dsn: str | None = None, *, start: bool = True) -> Target:
    if dsn:
        return Target(dsn, "--dsn")
    env = database_url_from_env()
    if env:
        return Target(env, "DATABASE_URL")
    server = project_server(project)
    if start:
        url = server.start()
    elif server.is_running():
        url = server.url()
    else:
        raise ArbedbError("no database: pass --dsn, set DATABASE_URL, or start the local one with `arbedb db start`")
    return Target(url, f"local server, {server.binaries.describe()}, data in {server.data}")


@contextmanager
def connect(dsn: str, **kwargs):
    """A psycopg connection with a one-line error when the server cannot be reached."""
    import psycopg

    try:
        conn = psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ArbedbError(f"cannot connect to the database ({first}); check --dsn / DATABASE_URL") from None
    try:
        yield conn
    finally:
        conn.close()
