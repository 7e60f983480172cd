"""The project's own rules: one module per rule, ``arbNNN_<slug>.py``.

Each module has a docstring (what it catches, why it matters, a bad and a good
example), and defines ``CODE`` (stable, never reused), ``TITLE``, ``SCOPE``
and ``check(ctx) -> Iterable[Finding]``.

``SCOPE = "schema"`` rules read only the schema model, so ``arbedb verify``
runs them unchanged on a live catalog; ``SCOPE = "files"`` rules read the
repository's files (revisions, comments, file order) and run in lint only.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

from ..model import Schema
from ..parsing import ParsedSource


@dataclass(frozen=True)
class Context:
    schema: Schema
    sources: tuple[ParsedSource, ...]
    synced: frozenset[str]  # qualified names of the tables Electric syncs ("public.houses")
    shape_columns: dict = field(default_factory=dict)  # synced table -> columns its shape WHEREs read
    # (shape label, its table, its WHERE's top-level terms printed, Subquery) per subquery of a subquery shape
    subqueries: tuple = ()
    project: object = None  # the arbedb Project; rules fall back to defaults without one

    def sources_with_role(self, *roles: str) -> list[ParsedSource]:
        return [p for p in self.sources if p.source.role in roles]

    def synced_tables(self) -> list:
        """The synced tables this schema defines (a declared one that is missing is verify's ELE020)."""
        return [self.schema.tables[n] for n in sorted(self.synced) if n in self.schema.tables]


@cache
def all_rules() -> tuple[ModuleType, ...]:
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("arb"):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    codes = [m.CODE for m in modules]
    assert len(codes) == len(set(codes)), f"duplicate rule codes: {sorted(codes)}"
    return tuple(sorted(modules, key=lambda m: m.CODE))


def rules_for(scope: str | None = None) -> tuple[ModuleType, ...]:
    return tuple(m for m in all_rules() if scope is None or m.SCOPE == scope)


def summary(module: ModuleType) -> str:
    """The docstring's first line, for reports and SARIF rule metadata."""
    return (module.__doc__ or module.TITLE).strip().splitlines()[0]
