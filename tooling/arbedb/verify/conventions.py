"""The lint rules, run on a live catalog: what lint checks before an apply, verify checks after.

Every rule with ``SCOPE = "schema"`` runs on the DDL read back from the catalog
(verify/catalog_sql.py). Rules whose subject verify/electric.py already checks
live, with its ELE codes, are skipped here so a problem is reported once.
"""

from __future__ import annotations

from ..lint.parsing import parse
from ..lint.semantic import context, electric_declarations, run_rules
from .catalog_sql import catalog_sources

# Checked live by verify/electric.py: publication (ELE002-007), replica identity
# (ELE008), credential columns of published tables (ELE030), shape columns (ELE020-025).
COVERED_BY_ELECTRIC = ("ARB007", "ARB008", "ARB009", "ARB020")


def checks(conn, project) -> list:
    synced, shape_columns, subqueries, problems = electric_declarations(project)
    parsed = [parse(s) for s in catalog_sources(conn)]
    findings = [p.error for p in parsed if p.error is not None] + problems
    ctx = context(parsed, synced=synced, shape_columns=shape_columns, project=project, subqueries=subqueries)
    return findings + run_rules(ctx, scope="schema", skip=COVERED_BY_ELECTRIC)
