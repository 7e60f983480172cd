"""electric/shapes.toml and `arbedb shapes`: the declarations the proxy gets."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from arbedb.cli import main
from arbedb.errors import ArbedbError
from arbedb.electric.shapes import HOUSE_WHERE, load_shapes

SYNCED = ["houses", "members", "agents", "environments", "threads", "configs", "secrets", "invites", "api_keys"]


def test_declarations_follow_the_spec(arbedb_project):
    shapes = load_shapes(arbedb_project)
    assert [t.name for t in shapes.tables] == SYNCED
    for table in shapes.tables:
        house = table.shapes[0]
        assert (house.name, house.where, house.params) == ("house", HOUSE_WHERE, ("house",))
        assert house.role == ("admin" if table.name in ("invites", "api_keys") else "member")
        assert "id" in table.columns and table.primary_key == ("id",)
    own = load_shapes(arbedb_project).table("members").shapes[1]
    assert (own.name, own.where, own.params, own.role) == ("own", "user_id = $1 AND deleted_at IS NULL", ("caller",),
                                                           None)


def test_shapes_json_is_what_the_proxy_reads(arbedb_project, monkeypatch):
    monkeypatch.chdir(arbedb_project.root)
    result = CliRunner().invoke(main, ["shapes", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["publication"] == "electric_publication_default"
    assert list(data["tables"]) == SYNCED
    assert data["tables"]["invites"]["shapes"]["house"] == {"where": HOUSE_WHERE, "params": ["house"], "role": "admin",
                                                            "caller": "user", "replica": "default"}
    assert data["tables"]["threads"]["shapes"]["agent"] == {
        "where": "house_id = $1 AND agent_id = $2 AND deleted_at IS NULL", "params": ["house", "agent"], "role": None,
        "caller": "key", "replica": "default"}
    # A subquery shape: one line whatever the file's layout, whole rows, and the table Electric also syncs for it.
    assert data["tables"]["threads"]["shapes"]["mine"] == {
        "where": "house_id IN (SELECT house_id FROM members WHERE user_id = $1 AND deleted_at IS NULL "
                 "AND house_deleted_at IS NULL) AND deleted_at IS NULL",
        "params": ["caller"], "role": None, "caller": "user", "replica": "full", "subquery": True,
        "depends_on": ["public.members"]}
    assert data["tables"]["members"]["shapes"]["mine"]["where"].startswith("house_id IN (SELECT house_id FROM members")
    assert data["callers"] == ["user", "key"] and "agent" in data["params"]
    assert data["tables"]["members"]["shapes"]["own"]["params"] == ["caller"]
    assert data["tables"]["houses"]["primary_key"] == ["id"]
    text = CliRunner().invoke(main, ["shapes"])
    assert text.exit_code == 0 and "public.members" in text.output and "own" in text.output


def test_key_shapes_serve_keys_only(arbedb_project):
    """SPEC §5b: the house's agents, environments and the house itself for every key; an
    agent key's threads and configs; house-wide configs for every key. No key shape elsewhere."""
    shapes = load_shapes(arbedb_project)
    key_shapes = {(s.table, s.name): s.params for s in shapes.all_shapes() if s.caller == "key"}
    assert key_shapes == {("houses", "key"): ("house",), ("agents", "key"): ("house",),
                          ("environments", "key"): ("house",), ("threads", "agent"): ("house", "agent"),
                          ("configs", "agent"): ("house", "agent"), ("configs", "house_wide"): ("house",)}
    threads = shapes.table("threads").shapes
    assert [s.name for s in threads if s.allows_key(None)] == []  # a house-wide key: no threads
    assert [s.name for s in threads if s.allows_key("agent")] == ["agent"]
    assert [s.name for s in threads if s.allows("owner")] == ["house", "mine"]  # users never get a key shape


KEY_SHAPE = '[tables.x]\nrole = "member"\ncolumns = ["id", "house_id", "agent_id", "deleted_at"]\n[tables.x.shapes.k]\n'
BAD = [
    (KEY_SHAPE + 'caller = "key"\nwhere = "house_id = $1 AND deleted_at IS NULL"\nparams = ["house"]\nrole = "member"\n',
     "a key holds no house role"),
    (KEY_SHAPE + 'caller = "key"\nwhere = "house_id = $1 OR deleted_at IS NULL"\nparams = ["house"]\n',
     "a key shape.s WHERE is an AND of"),
    (KEY_SHAPE + 'caller = "key"\nwhere = "house_id = $1 AND agent_id = $2"\nparams = ["house", "agent"]\n',
     "must hold `deleted_at IS NULL`"),
    (KEY_SHAPE + 'caller = "key"\nwhere = "agent_id = $1 AND deleted_at IS NULL"\nparams = ["caller"]\n',
     "a key is not a user"),
    (KEY_SHAPE + 'where = "agent_id = $1 AND deleted_at IS NULL"\nparams = ["agent"]\n', 'add caller = "key"'),
    (KEY_SHAPE + 'caller = "bot"\nwhere = "deleted_at IS NULL"\n', "caller 'bot' is not a caller kind"),
    ('[tables.x]\nrole = "member"\ncolumns = ["house_id", "deleted_at"]\n', "lacks primary key column(s) id"),
    ('[tables.x]\nrole = "guest"\ncolumns = ["id", "house_id", "deleted_at"]\n', "role 'guest' is not a house role"),
    ('[tables.x]\ncolumns = ["id", "house_id", "deleted_at"]\n', "no role for the house shape"),
    ('[tables.x]\nrole = "member"\ncolumns = ["id", "house_id"]\n', "filters on deleted_at, not in columns"),
    ('[tables.x]\nrole = "member"\ncolumns = ["id", "house_id", "deleted_at", "id"]\n', "names a column twice"),
    ('[tables.x]\nrole = "member"\ncolums = ["id"]\n', "unknown key(s) colums"),
    ('[tables.x]\nrole = "member"\ncolumns = ["id", "house_id", "deleted_at"]\n[tables.x.shapes.s]\n'
     'where = "house_id = $1 AND $2 = 1"\nparams = ["house"]\nrole = "member"\n', "give one params entry per"),
    ('[tables.x]\nrole = "member"\ncolumns = ["id", "house_id", "deleted_at"]\n[tables.x.shapes.s]\n'
     'where = "house_id IN (SELECT 1)"\nparams = []\n', "cannot hold a subquery"),
    ('[tables.x]\nrole = "member"\ncolumns = ["id", "house_id", "deleted_at"]\n[tables.x.shapes.s]\n'
     'where = "house_id = $1; DROP TABLE x"\nparams = ["caller"]\n', "must be one boolean expression"),
    ('[tables.x]\nrole = "member"\ncolumns = ["id", "house_id", "deleted_at"]\n[tables.x.shapes.s]\n'
     'where = "house_id = $1"\nparams = ["house"]\n', "needs a role exactly when a param is"),
]


SUB = ('[tables.members]\nrole = "member"\ncolumns = ["id", "house_id", "user_id", "deleted_at"]\n'
       '[tables.x]\nrole = "member"\ncolumns = ["id", "house_id", "deleted_at"]\n[tables.x.shapes.mine]\n')
IN_MEMBERS = "house_id IN (SELECT house_id FROM members WHERE user_id = $1)"
BAD += [
    (SUB + f'where = "{IN_MEMBERS} AND deleted_at IS NULL"\nparams = ["caller"]\n',
     "cannot hold a subquery unless the shape declares subquery = true"),
    (SUB + f'subquery = "yes"\nwhere = "{IN_MEMBERS} AND deleted_at IS NULL"\nparams = ["caller"]\n',
     "subquery must be true or false"),
    (SUB + 'subquery = true\nwhere = "house_id = $1 AND deleted_at IS NULL"\nparams = ["house"]\nrole = "member"\n',
     "declares subquery = true but its WHERE has no"),
    (SUB + f'subquery = true\nwhere = "{IN_MEMBERS}"\nparams = ["caller"]\n', "must hold `AND deleted_at IS NULL`"),
    (SUB + f'subquery = true\ncaller = "key"\nwhere = "{IN_MEMBERS.replace("user_id", "house_id")} AND deleted_at '
     'IS NULL"\nparams = ["house"]\n', "key shapes are literal"),
    (SUB + 'subquery = true\nwhere = "house_id IN (SELECT house_id FROM secrets WHERE name = $1) AND deleted_at IS '
     'NULL"\nparams = ["caller"]\n', "reads public.secrets, not a synced table"),
    (SUB + 'subquery = true\nwhere = "house_id IN (SELECT house_id FROM members m WHERE user_id = $1) AND '
     'deleted_at IS NULL"\nparams = ["caller"]\n', "takes no alias"),
    (SUB + 'subquery = true\nwhere = "house_id IN (SELECT house_id FROM members WHERE members.user_id = $1) AND '
     'deleted_at IS NULL"\nparams = ["caller"]\n', "write columns unqualified"),
    (SUB + 'subquery = true\nwhere = "house_id IN (SELECT house_id FROM members JOIN houses ON true) AND deleted_at '
     'IS NULL"\nparams = []\n', "one table, no join"),
    (SUB + 'subquery = true\nwhere = "house_id IN (SELECT DISTINCT house_id FROM members) AND deleted_at IS NULL"\n'
     'params = []\n', "a plain SELECT"),
    (SUB + 'subquery = true\nwhere = "EXISTS (SELECT FROM members WHERE user_id = $1) AND deleted_at IS NULL"\n'
     'params = ["caller"]\n', "only `IN (SELECT ...)` subqueries"),
    (SUB + 'subquery = true\nwhere = "house_id IN (SELECT house_id FROM members WHERE house_id IN (SELECT house_id '
     'FROM members WHERE user_id = $1)) AND deleted_at IS NULL"\nparams = ["caller"]\n', "a subquery inside a subquery"),
    (SUB + 'subquery = true\nwhere = "house_id IN (SELECT house_id, user_id FROM members) AND deleted_at IS NULL"\n'
     'params = []\n', "as many as the left side of IN"),
    (SUB + f'subquery = true\nwhere = "{IN_MEMBERS} AND deleted_at IS NULL"\nparams = []\n',
     "give one params entry per"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m for _, m in BAD])
def test_a_malformed_declaration_is_one_error_naming_the_fix(project_copy, text, message):
    (project_copy.root / "electric" / "shapes.toml").write_text(text)
    with pytest.raises(ArbedbError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_shapes(project_copy)
    assert "\n" not in str(info.value) and "electric/shapes.toml" in str(info.value)
