"""The squawk engine: migration-safety rules (lock and rewrite hazards, CONCURRENTLY in a transaction).

One squawk process per group of files (upgrades, downgrades, declarative), each
with the exclusions .squawk.toml gives that group; the processes run at once.
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
from .sources import Source

CONFIG = ".squawk.toml"
GROUPS = {"up": None, "down": "downgrade", "declarative": "declarative"}


def executable() -> str:
    beside = Path(sys.executable).parent / "squawk"  # installed by the squawk-cli wheel into the venv
    found = str(beside) if beside.is_file() else shutil.which("squawk")
    if not found:
        raise ArbedbError("squawk is not installed; run `pip install -e .` (it comes with squawk-cli)")
    return found


def exclusions(root: Path) -> dict[str, list[str]]:
    """Rules to skip per source role, from .squawk.toml."""
    path = root / CONFIG
    data = tomllib.loads(path.read_text()) if path.is_file() else {}
    base = list(data.get("excluded_rules", []))
    extra = data.get("arbedb", {})
    return {role: base + list(extra.get(group, {}).get("excluded_rules", [])) if group else base
            for role, group in GROUPS.items()}


def start(root: Path, sources: list[Source]) -> list[subprocess.Popen]:
    """Launch squawk for each group (returns at once; ``collect`` waits)."""
    skip = exclusions(root)
    config = ["-c", CONFIG] if (root / CONFIG).is_file() else ["--assume-in-transaction"]
    procs = []
    for role in GROUPS:
        paths = [s.path for s in sources if s.role == role and s.path]
        if not paths:
            continue
        cmd = [executable(), *config, "--reporter", "json", "--no-error-on-unmatched-pattern"]
        cmd += [f"--exclude={','.join(skip[role])}"] if skip[role] else []
        procs.append(subprocess.Popen(cmd + paths, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return procs


def collect(procs: list[subprocess.Popen]) -> list[Finding]:
    findings: list[Finding] = []
    for proc in procs:
        out, err = proc.communicate()
        try:
            reports = json.loads(out or "[]")
        except json.JSONDecodeError:
            raise ArbedbError(f"squawk failed (exit {proc.returncode}): {(err or out).strip()[:300]}") from None
        findings.extend(_finding(r) for r in reports)
    return findings


def _finding(report: dict) -> Finding:
    rule = report.get("rule_name") or "syntax-error"
    return Finding(
        code=f"squawk:{rule}",
        message=report.get("message", "").rstrip("."),
        fix=report.get("help") or f"see `squawk` rule {rule} (https://squawkhq.com/docs/{rule})",
        path=report.get("file"), line=int(report.get("line", 0)) + 1, col=int(report.get("column", 0)) + 1,
        # squawk calls every hazard a warning; here a migration hazard fails the gate like any
        # other finding (an inline ignore with a reason is the way past it).
        severity="error",
    )
