"""pgrls (a static RLS analyzer) against the live database, folded into verify's report.

Runs ``pgrls lint`` (a dependency of arbedb, so installed with it; where its
executable is missing anyway the report says the check did not run), with the
project's ``pgrls.toml`` when there is one. A pgrls finding at or above that
file's ``[lint] fail_on`` (default ``error``) is an error here, anything below a
warning, so verify fails exactly when ``pgrls lint`` would. A finding about one
of the platform's own roles (``arbedb.platform.ROLES``: Supabase's
``supabase_read_only_user`` has BYPASSRLS, its service admins may become
``service_role``, ...) is the platform's design, not the project's: it is
reported apart and never fails verify, without pgrls.toml naming each role.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from ..errors import ArbedbError
from ..findings import Finding
from . import NotRun, dsn_of

CONFIG = "pgrls.toml"
LEVELS = ("info", "warning", "error")


def executable() -> str | None:
    return shutil.which("pgrls", path=str(Path(sys.executable).parent)) or shutil.which("pgrls")


def checks(conn, project) -> list[Finding]:
    exe = executable()
    if exe is None:
        raise NotRun("the pgrls executable is not installed; `pip install pgrls` (an arbedb dependency) in "
                     "arbedb's environment")
    config = Path(project.root) / CONFIG
    cmd = [exe, "lint", "--format", "json", "--database-url", dsn_of(conn)]
    threshold = "error"
    if config.is_file():
        cmd += ["--config", str(config)]
        threshold = tomllib.loads(config.read_text()).get("lint", {}).get("fail_on", "error")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        violations = json.loads(proc.stdout)["violations"]
    except (json.JSONDecodeError, KeyError):
        raise ArbedbError(f"pgrls lint failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:300]}"
                          "; run it by hand to see why") from None
    return [_finding(v, threshold) for v in violations]


def _finding(violation: dict, threshold: str) -> Finding:
    from .. import platform

    rule = violation.get("rule_id", "?")
    level = violation.get("severity", "error")
    failing = LEVELS.index(level) >= LEVELS.index(threshold) if level in LEVELS and threshold in LEVELS else True
    where = violation.get("location") or "database"
    severity = platform.SEVERITY if where in platform.ROLES else "error" if failing else "warning"
    return Finding(
        code=f"pgrls:{rule}", message=violation.get("message") or violation.get("title", ""),
        fix=f"`pgrls explain {rule}` says how; an intended exception goes in pgrls.toml's allowlist with its reason",
        object=where, severity=severity)
