"""Supabase's advisors (`supabase db advisors`), where the Supabase CLI is on PATH.

The CLI connects with ``--db-url`` and needs no Docker and no linked project. Its
findings join verify's report: one about an object in a platform schema
(``arbedb.platform.SCHEMAS``) is the platform's, reported apart; the rest are the
project's, ``ERROR`` as errors and ``WARN`` as warnings (``INFO`` is not asked for:
on a fresh database every index is "unused"). An advisor that one of the
project's own rules already judges (COVERED_BY_PROJECT_RULES) is not repeated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from .. import platform
from ..errors import ArbedbError
from ..findings import Finding
from . import NotRun, dsn_of

# function_search_path_mutable flags every function without SET search_path; ARB010 asks the
# same of every function except the SQL helpers that name only qualified objects and keep no
# SET so PostgreSQL can inline them into policies (docs/decisions.md).
COVERED_BY_PROJECT_RULES = {"function_search_path_mutable": "ARB010"}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def executable() -> str | None:
    return shutil.which("supabase")


def db_url(dsn: str) -> str:
    """A libpq DSN as the percent-encoded URL the CLI wants. The CLI does not fall back from
    TLS, so without an sslmode in the DSN: off for a local server, required for any other."""
    info = conninfo_to_dict(dsn)
    auth = quote(info.get("user", "postgres"), safe="")
    if info.get("password"):
        auth += ":" + quote(info["password"], safe="")
    host = info.get("host", "127.0.0.1")
    sslmode = info.get("sslmode") or ("disable" if host in LOCAL_HOSTS or host.startswith("/") else "require")
    return (f"postgresql://{auth}@{host}:{info.get('port', 5432)}/"
            f"{quote(info.get('dbname', 'postgres'), safe='')}?sslmode={sslmode}")


def checks(conn, project) -> list[Finding]:
    exe = executable()
    if exe is None:
        raise NotRun("the Supabase CLI is not on PATH; install it (`npm i supabase`, its bin folder on PATH) "
                     "to add Supabase's advisors")
    with tempfile.TemporaryDirectory() as workdir:  # no supabase/config.toml of the user's is read
        proc = subprocess.run([exe, "db", "advisors", "--db-url", db_url(dsn_of(conn)), "--type", "all",
                               "--level", "warn", "--fail-on", "none", "-o", "json"],
                              cwd=workdir, capture_output=True, text=True, timeout=600)
    try:
        advised = json.loads(proc.stdout or "[]") if proc.returncode == 0 else None
    except json.JSONDecodeError:
        advised = None
    if not isinstance(advised, list):
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        raise ArbedbError(f"supabase db advisors failed (exit {proc.returncode}): {(reason or ['no output'])[-1][:300]}"
                          "; run it by hand with --debug to see why, or `arbedb verify --skip advisors`")
    return [_finding(a) for a in advised if a.get("name") not in COVERED_BY_PROJECT_RULES]


def _finding(advice: dict) -> Finding:
    meta = advice.get("metadata") or {}
    schema, name = meta.get("schema"), meta.get("name")
    where = ".".join(p for p in (schema, name) if p) or "database"
    level = advice.get("level", "WARN")
    return Finding(
        code=f"supabase:{advice.get('name', '?')}", object=where,
        message=advice.get("detail") or advice.get("title", ""),
        fix=f"see {advice['remediation']}" if advice.get("remediation") else "see Supabase's database linter docs",
        severity=platform.SEVERITY if schema in platform.SCHEMAS else "error" if level == "ERROR" else "warning")
