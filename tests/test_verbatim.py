"""Revision SQL runs verbatim online and comes out verbatim offline."""

from __future__ import annotations

import psycopg

from arbedb import commands

PROBE_SQL = """\
CREATE TABLE public.verbatim_probe (id int PRIMARY KEY, doc jsonb, note text);
INSERT INTO public.verbatim_probe VALUES (1, '{"a":1}', 'bind :name stays, 100% literal');
CREATE FUNCTION public.verbatim_fn(p text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    pct text := '50%';
BEGIN
    RETURN p || ' :name ' || pct || ' ' || ('{"a":1}'::jsonb ->> 'a');
END
$$;
"""
BODY = PROBE_SQL.split("$$")[1]


def _add_probe(project) -> None:
    commands.new(project, "verbatim_probe", up_sql=PROBE_SQL,
                 down_sql="DROP FUNCTION public.verbatim_fn(text);\nDROP TABLE public.verbatim_probe;\n")


def test_json_colon_names_percent_and_plpgsql_survive_online(project_copy, empty_dsn):
    _add_probe(project_copy)
    commands.apply(project_copy, empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        doc, note = conn.execute("SELECT doc, note FROM public.verbatim_probe").fetchone()
        assert doc == {"a": 1}
        assert note == "bind :name stays, 100% literal"
        assert conn.execute("SELECT public.verbatim_fn('x')").fetchone()[0] == "x :name 50% 1"
        assert conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'verbatim_fn'").fetchone()[0] == BODY


def test_same_sql_comes_out_unchanged_offline(project_copy):
    _add_probe(project_copy)
    offline = commands.offline_sql(project_copy)
    assert PROBE_SQL in offline
    assert "%%" not in offline


def test_offline_script_applies_to_the_same_catalog(project_copy, empty_dsn, arbedb_cluster):
    """`alembic upgrade head --sql` piped to the server gives what `arbedb apply` gives."""
    from conftest import assert_same_catalog, snapshot

    _add_probe(project_copy)
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(commands.offline_sql(project_copy))
    offline_catalog = snapshot(empty_dsn)
    with arbedb_cluster.database() as online_dsn:
        commands.apply(project_copy, online_dsn)
        assert_same_catalog(snapshot(online_dsn), offline_catalog)
