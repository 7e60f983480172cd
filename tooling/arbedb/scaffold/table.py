"""`arbedb new-table NAME [--parent TABLE] [--not-synced]`: a house-scoped table with every convention.

Writes a revision (``commands.new``), ``policies/NN_<name>.sql`` (first free
number from 30), ``triggers/NN_<name>.sql`` (first free number from 50),
declares the table's permissions (policies/permissions.toml: the rule its
policies enforce, which rls-test then holds them to), for a synced table
declares it in ``electric/shapes.toml`` (which the publication reads), and puts
it in ``pgrls.toml``'s allowlists beside its siblings. What the project already
defines is read from the lint engine's schema model of the repository (no
database needed): the name must be free, the parent must be a house-scoped table.

All or nothing: every check runs and every text is rendered before the first
file is touched; the texts are staged beside their targets and renamed into
place, and on any failure every target is put back as it was (stage.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import commands
from ..config import Project
from ..errors import ArbedbError
from ..electric.shapes import load_shapes, shapes_path
from ..permissions import ROLES, load_permissions, permissions_path
from .sql import DOWN, POLICIES, TRIGGERS, UP, NewTable, declaration, render
from ..files import Staged

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
POLICY_NUMBERS = range(30, 50)  # after the membership functions (20), beside the other tables' policies
TRIGGER_NUMBERS = range(50, 100)  # after the trigger functions (10-40)


@dataclass
class Scaffold:
    table: NewTable
    created: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)


def parent_column(parent: str) -> str:
    """agents -> agent_id, api_keys -> api_key_id, categories -> category_id."""
    stem = parent[:-3] + "y" if parent.endswith("ies") else parent[:-1] if parent.endswith("s") else parent
    return f"{stem}_id"


def _schema(project: Project):
    from ..lint.model import build_schema
    from ..lint.parsing import parse
    from ..lint.sources import project_sources

    return build_schema([parse(s) for s in project_sources(project)])


def _check_name(name: str) -> None:
    """A table name usable bare in every statement the scaffold writes: an identifier and
    no SQL keyword but the unreserved ones (PostgreSQL's own list, from its parser)."""
    from pglast import keywords

    if not _NAME.match(name):
        raise ArbedbError(f"table name {name!r}: use lower_snake_case letters, digits and _, starting with a letter "
                          "(e.g. labels)")
    if name in keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS:
        raise ArbedbError(f"table name {name!r} is an SQL keyword; pick another name (e.g. {name}s or app_{name})")


def _plan_table(project: Project, name: str, parent: str | None, synced: bool, read: str, write: str) -> NewTable:
    _check_name(name)
    for option, role in (("--read", read), ("--write", write)):
        if role not in ROLES:
            raise ArbedbError(f"{option} {role}: not a house role; use one of {', '.join(ROLES)}")
    schema = _schema(project)
    if f"public.{name}" in schema.tables:
        raise ArbedbError(f"public.{name} already exists in this project; pick another name")
    perms = load_permissions(project)
    if name in perms:
        raise ArbedbError(f"{perms.source} already declares {name} (and no revision creates it); remove that "
                          "declaration or pick another name")
    if parent is None:
        return NewTable(name, synced=synced, read=read, write=write)
    if parent == "houses":
        raise ArbedbError("every table already belongs to a house (house_id); --parent names another house table, "
                          "e.g. --parent agents")
    table = schema.tables.get(f"public.{parent}")
    if table is None or "house_id" not in table.columns:
        houses = sorted(t.short for t in schema.public_tables() if "house_id" in t.columns and t.short != "houses")
        raise ArbedbError(f"--parent {parent}: no house-scoped table of that name; one of: {', '.join(houses)}")
    if not any(set(key) == {"house_id", "id"} for key in table.keys):
        # Adding it here would lock the parent while the index builds, inside the apply transaction.
        raise ArbedbError(f"--parent {parent}: public.{parent} has no UNIQUE (house_id, id) for the same-house "
                          f"foreign key; add it first in a revision of its own, scheduled for a quiet moment "
                          f"(ALTER TABLE public.{parent} ADD CONSTRAINT {parent}_house_id_id_key UNIQUE (house_id, id)), "
                          "then run new-table again")
    return NewTable(name, parent, parent_column(parent), synced=synced, read=read, write=write)


def _numbered(folder: Path, name: str, numbers: range) -> Path:
    taken = {int(m.group(1)) for p in folder.glob("*.sql") if (m := re.match(r"^(\d+)_", p.name))}
    free = [n for n in numbers if n > max((t for t in taken if t in numbers), default=numbers.start - 1)]
    if not free:
        raise ArbedbError(f"{folder.name}/ has no free number in {numbers.start}-{numbers.stop - 1} after the "
                          f"existing files; create {folder.name}/NN_{name}.sql by hand")
    path = folder / f"{free[0]:02d}_{name}.sql"
    if any(p.name.endswith(f"_{name}.sql") for p in folder.glob("*.sql")):
        raise ArbedbError(f"{folder.name}/ already has a file for {name}; remove it or pick another name")
    return path


def _shapes_text(project: Project, table: NewTable) -> str:
    import tomlkit

    load_shapes(project)  # the file must be valid before we add to it
    path = shapes_path(project)
    doc = tomlkit.parse(path.read_text())
    entry = tomlkit.table()
    entry["role"] = "member"
    entry["columns"] = ["id", "house_id", *([table.parent_column] if table.parent else []), "created_by",
                        "created_at", "updated_at", "deleted_at"]
    doc["tables"][table.name] = entry
    return tomlkit.dumps(doc)


PGRLS_FILE = "pgrls.toml"


def _pgrls_text(project: Project, table: NewTable) -> str | None:
    """pgrls.toml with the new table in the allowlists its siblings are in, for the same audited reasons:
    the scaffold's triggers call the audited trigger functions (SEC013), its INSERT check reads created_by of
    the one new row (PERF003), and it has one policy per command (SEC007). None when there is no such file."""
    import tomlkit
    from pglast import parse_sql

    path = project.root / PGRLS_FILE
    if not path.is_file():
        return None
    triggers = [s.stmt.trigname for s in parse_sql(render(TRIGGERS, table))]
    wanted = {"SEC013": [f"public.{table.name}.{t}" for t in triggers],
              "PERF003": [f"public.{table.name}.{table.name}_insert"], "SEC007": [f"public.{table.name}"]}
    doc = tomlkit.parse(path.read_text())
    rules = doc.get("lint", {}).get("rules", {})
    for rule, entries in wanted.items():
        allowlist = rules.get(rule, {}).get("allowlist")
        if allowlist is not None:  # a rule the project has not audited stays for the user to judge
            allowlist.extend(e for e in entries if e not in allowlist)
    return tomlkit.dumps(doc)


def _permissions_text(project: Project, table: NewTable) -> str:
    import tomlkit

    doc = tomlkit.parse(permissions_path(project).read_text())
    doc["tables"][table.name] = declaration(table)
    return tomlkit.dumps(doc)


def new_table(project: Project, name: str, *, parent: str | None = None, synced: bool = True,
              read: str = "member", write: str = "admin") -> Scaffold:
    table = _plan_table(project, name, parent, synced, read, write)
    policy = _numbered(project.root / "policies", name, POLICY_NUMBERS)
    trigger = _numbered(project.root / "triggers", name, TRIGGER_NUMBERS)
    texts = {policy: render(POLICIES, table), trigger: render(TRIGGERS, table),
             permissions_path(project): _permissions_text(project, table)}
    if synced:
        texts[shapes_path(project)] = _shapes_text(project, table)
    pgrls = _pgrls_text(project, table)
    if pgrls is not None:
        texts[project.root / PGRLS_FILE] = pgrls
    with Staged(texts) as staged:
        staged.revision(project.migrations_dir / "versions", lambda: commands.new(
            project, f"add_{name}", up_sql=render(UP, table), down_sql=render(DOWN, table)))
        staged.commit()
        load_permissions(project)  # what was written must still load; a failure here puts it all back
        if synced:
            load_shapes(project)
    return Scaffold(table, created=[*staged.revision_files, policy, trigger],
                    changed=[p for p in texts if p not in (policy, trigger)])
