"""The one shape every check produces: lint rules, squawk, sqlfluff and verify alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Finding:
    code: str  # stable rule code: "ARB001", "VER010", "sqlfluff:LT02", "squawk:require-timeout"
    message: str  # what is wrong, naming the object
    fix: str  # how to fix it, one sentence
    path: str | None = None  # file relative to the project root (lint); None for live-database checks
    line: int = 1
    col: int = 1
    object: str | None = None  # database object, e.g. "public.threads" or "policy threads_select"
    severity: str = "error"  # "error" or "warning"

    def location(self) -> str:
        if self.path:
            return f"{self.path}:{self.line}:{self.col}"
        return self.object or "database"

    def line_text(self) -> str:
        """One line: where, code, what, fix."""
        return f"{self.location()}: {self.code} {self.message}; fix: {self.fix}"

    def as_dict(self) -> dict:
        return asdict(self)
