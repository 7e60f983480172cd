"""`arbedb`: a thin click layer over the importable command functions."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import click

from . import __version__, commands
from .config import find_project
from .db import check_dsn, default_connect_timeout, resolve_dsn
from .engine.history import check as check_history, script_directory
from .errors import ArbedbError
from .exits import Interrupt, fail_cleanly as _fail_cleanly
from .server import project_server
from .verify import CHECK_MODULES

warnings.filterwarnings("ignore", module="platformdirs")


dsn_option = click.option("--dsn", envvar=None, help="Database URL (else DATABASE_URL, else the local server).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", package_name="arbedb", message="%(prog)s %(version)s")
def main() -> None:
    """Version-controlled SQL for Arbe's houses: apply, lint, verify, RLS-test."""
    default_connect_timeout()


def _print_apply(result, target, nothing: str = "at head and no declarative file changed") -> None:
    click.echo(f"database: {target.origin}")
    for step in result.steps:
        click.echo(f"  {step}")
    for path in result.declarative:
        click.echo(f"  applied {path}")
    if not result.steps and not result.declarative:
        click.echo(f"  nothing to do: {nothing}")
    for notice in result.notices:
        click.echo(f"arbedb: warning: {notice}", err=True)
    click.echo(f"at {', '.join(result.heads) or 'base'} in {result.seconds:.2f}s")


@main.command()
@dsn_option
@click.option("--redeclare", is_flag=True, help="Re-apply the declarative layer even if no file changed.")
@_fail_cleanly
def apply(dsn, redeclare):
    """Upgrade to head, then policies/, triggers/, electric/: one transaction, all or nothing."""
    project = find_project()
    check_history(project)
    target = resolve_dsn(project, dsn)
    _print_apply(commands.apply(project, target.dsn, redeclare=redeclare), target)


@main.command()
@_fail_cleanly
def up():
    """Start the local server if needed, apply everything, say where it is."""
    project = find_project()
    check_history(project)
    target = resolve_dsn(project, None)
    _print_apply(commands.apply(project, target.dsn), target)
    click.echo(f"connect: psql {target.dsn}   (or `arbedb db psql`)")


@main.command()
@click.argument("revision", default="-1")
@dsn_option
@_fail_cleanly
def down(revision, dsn):
    """Downgrade to REVISION (default: one step back; `base` for everything)."""
    project = find_project()
    script_directory(project)
    target = resolve_dsn(project, dsn)
    _print_apply(commands.down(project, target.dsn, revision), target, nothing="already at base")


@main.command()
@dsn_option
@_fail_cleanly
def status(dsn):
    """Current and pending revisions, changed declarative files, drift."""
    project = find_project()
    script_directory(project)
    target = resolve_dsn(project, dsn)
    st = commands.status(project, target.dsn)
    click.echo(f"database: {target.origin}")
    click.echo(f"current: {', '.join(st.current) or 'base (nothing applied)'}")
    click.echo(f"head:    {', '.join(st.heads)}")
    click.echo(f"pending revisions: {len(st.pending)}")
    for line in st.pending:
        click.echo(f"  {line}")
    changes = st.declarative.lines()
    click.echo(f"declarative files changed since last apply: {len(changes)}")
    for line in changes:
        click.echo(f"  {line}")
    click.echo(f"drift: {st.drift}")


@main.command()
@click.argument("name")
@_fail_cleanly
def new(name):
    """A new revision NAME with its .up.sql and .down.sql."""
    project = find_project()
    for path in commands.new(project, name):
        click.echo(f"created {path.relative_to(project.root)}")


@main.command("new-table")
@click.argument("name")
@click.option("--parent", metavar="TABLE", help="A house table each row belongs to (e.g. agents): "
              "adds <parent>_id, bound to the same house.")
@click.option("--not-synced", is_flag=True, help="Leave it out of the Electric publication and shapes.")
@click.option("--read", "read_role", default="member", show_default=True,
              help="The minimum house role that may SELECT (member, admin, owner).")
@click.option("--write", "write_role", default="admin", show_default=True,
              help="The minimum house role that may INSERT and UPDATE.")
@_fail_cleanly
def new_table(name, parent, not_synced, read_role, write_role):
    """Scaffold a house-scoped table NAME: revision, policies, triggers, permissions, publication and shape."""
    from .permissions import permissions_path
    from .scaffold.table import new_table as scaffold

    project = find_project()
    done = scaffold(project, name, parent=parent, synced=not not_synced, read=read_role, write=write_role)
    for path in done.created:
        click.echo(f"created {path.relative_to(project.root)}")
    for path in done.changed:
        click.echo(f"changed {path.relative_to(project.root)}")
    declared = permissions_path(project).relative_to(project.root)
    click.echo(f"\nnext:\n  1. add the columns of {name} to the revision"
               + (" and to electric/shapes.toml" if not not_synced else "") + ";\n"
               f"  2. to change who may do what, change its policy file and tables.{name} in {declared} "
               f"together (written: {read_role}+ read, {write_role}+ write, API keys nothing);\n"
               "  3. arbedb lint && arbedb apply && arbedb verify && arbedb rls-test && arbedb matrix")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable, for the proxy.")
@_fail_cleanly
def shapes(as_json):
    """The shape declarations (electric/shapes.toml) the proxy may ask Electric for."""
    from .electric.shapes import load_shapes, render_json, render_text

    declared = load_shapes(find_project())
    click.echo(render_json(declared) if as_json else render_text(declared))


@main.command()
@dsn_option
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@_fail_cleanly
def matrix(dsn, fmt):
    """The permission matrix, found by running each command as each caller (all rolled back)."""
    from .matrix.declared import departures
    from .matrix.probe import probe_matrix
    from .matrix.render import render_html, render_markdown
    from .permissions import load_permissions, permissions_path

    project = find_project()
    script_directory(project)
    target = resolve_dsn(project, dsn)
    commands.require_head(project, target.dsn)
    found = probe_matrix(target.dsn)
    if not found.rows:
        raise ArbedbError("no house-scoped table in this database; run `arbedb apply` first")
    found.departures = departures(found, load_permissions(project))
    click.echo(render_html(found) if fmt == "html" else render_markdown(found), nl=False)
    if found.departures:
        raise ArbedbError(f"the database departs from {permissions_path(project).name} in "
                          f"{len(found.departures)} cell(s), listed under the matrix; fix the policy or the declaration")


@main.group()
def export() -> None:
    """The project in another tool's migration format."""


@export.command("supabase")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@_fail_cleanly
def export_supabase(folder):
    """Supabase CLI migrations in FOLDER (e.g. supabase/migrations) for `supabase db push`."""
    from .export import export_supabase as run

    result = run(find_project(), folder)
    for path in result.written:
        click.echo(f"wrote {path}")
    click.echo(f"{len(result.written)} new, {len(result.kept)} already exported and unchanged"
               + ("; next: `supabase db push`" if result.written else ""))


@export.command("pgtap")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), required=False,
                default="supabase/tests/database")
@click.option("--worlds", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also freeze this many rls-test worlds (needs a migrated database: --dsn).")
@click.option("--seed", type=int, default=0, show_default=True, help="The seed the worlds are drawn with.")
@dsn_option
@_fail_cleanly
def export_pgtap(folder, worlds, seed, dsn):
    """pgTAP tests of the permission model in FOLDER (default supabase/tests/database), for
    `supabase test db` or `pg_prove`."""
    from .pgtap import export_pgtap as run

    project = find_project()
    target = None
    if worlds:
        target = resolve_dsn(project, dsn).dsn
        commands.require_head(project, target)
    result = run(project, folder, worlds, seed, target)
    click.echo(f"wrote {len(result.written)} files, {result.assertions} assertions, in {folder}; "
               "next: `supabase test db` or `pg_prove -d <database> " + f"{folder}/*.sql`")


def _emit_report(report, fmt: str, output, junit=None) -> None:
    """Print (or write) a lint/verify/rls-test report, and its JUnit XML when asked; exit 1 when it holds an error."""
    from .reporting import render

    from .files import write_one

    _write_junit(report, junit)
    text = render(report, fmt)
    if output:
        write_one(Path(output), text + "\n", f"the {report.tool} report")
        click.echo(f"{report.tool}: {report.errors} error(s), {report.warnings} warning(s); report in {output}",
                   err=True)
    else:
        click.echo(text)
    if report.errors:
        sys.exit(1)


def _write_junit(report, junit) -> None:
    from .files import write_one
    from .reporting import render

    if junit:
        write_one(Path(junit), render(report, "junit") + "\n", f"the {report.tool} JUnit XML")


junit_option = click.option("--junit", type=click.Path(dir_okay=False),
                            help="Also write the result as JUnit XML to this file (one testcase per check).")


report_options = [
    click.option("--format", "fmt", type=click.Choice(("text", "json", "sarif", "github")), default="text",
                 show_default=True, help="Report format."),
    click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to this file."),
]


def _with_report_options(fn):
    for option in reversed(report_options):
        fn = option(fn)
    return fn


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@_with_report_options
@click.option("--engine", "engines", multiple=True, type=click.Choice(("sqlfluff", "squawk", "arbedb")),
              help="Run only this engine (repeatable; default: all three).")
@click.option("--no-cache", is_flag=True, help="Ask sqlfluff about every file, even those whose answer "
              "is cached in .arbedb/cache/ (the cache is keyed by file, configuration and sqlfluff version).")
@_fail_cleanly
def lint(paths, fmt, output, engines, no_cache):
    """Style (sqlfluff), migration safety (squawk) and the project's rules, without a database.

    PATHS limits the report to those files or folders (default: the whole project);
    the project's rules still read every file, since they judge the schema as a whole.
    """
    from .lint import ENGINES, as_report
    from .lint import lint as run_lint

    result = run_lint(find_project(), list(paths), tuple(engines) or ENGINES, cache=not no_cache)
    _emit_report(as_report(result), fmt, output)


@main.command()
@dsn_option
@click.option("--scratch-dsn", help="Server on which drift may create and drop a scratch database "
              "(default: a throwaway local server of the database's PostgreSQL major).")
@click.option("--skip", multiple=True, type=click.Choice(CHECK_MODULES), help="Leave out a group of checks (repeatable).")
@_with_report_options
@junit_option
@_fail_cleanly
def verify(dsn, scratch_dsn, skip, fmt, output, junit):
    """Read-only checks of a live database: Electric, the lint conventions, the Data API path, drift, pgrls,
    plpgsql_check and Supabase's advisors (the last two where the server or machine has them)."""
    from .verify import verify as run_verify

    project = find_project()
    if scratch_dsn is not None:
        check_dsn(scratch_dsn, "--scratch-dsn")
    script_directory(project)
    target = resolve_dsn(project, dsn)
    commands.require_head(project, target.dsn)
    _emit_report(run_verify(project, target.dsn, skip=tuple(skip), scratch_dsn=scratch_dsn), fmt, output, junit)


@main.command("rls-test")
@dsn_option
@click.option("--examples", default=100, show_default=True, type=click.IntRange(min=1),
              help="Generated worlds to check (at least 1).")
@click.option("--seed", "seed_value", default=0, show_default=True, help="Hypothesis seed (same seed, same worlds).")
@click.option("--mutate", is_flag=True, help="Mutation-test the security SQL instead: every mutant must be caught.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Mutants run in parallel (default: one per core).")
@click.option("--mutant-examples", default=10, show_default=True, type=click.IntRange(min=1),
              help="Worlds per mutant (at least 1: a mutant no world runs on is never caught).")
@click.option("--shrink-seconds", default=20.0, show_default=True, type=click.FloatRange(min=0),
              help="A world that disagrees is printed as soon as it is found; hypothesis then replays smaller "
                   "variants of it for at most this long (0: none) and the error names the smallest that still "
                   "disagrees.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="Result format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the result to this file.")
@junit_option
@_fail_cleanly
def rls_test(dsn, examples, seed_value, mutate, jobs, mutant_examples, shrink_seconds, fmt, output, junit):
    """Property-test RLS against the permission model (docs/model.md); every change is rolled back."""
    from rich.progress import Progress

    from .permissions import load_permissions
    from .rls.checks import Disagreement
    from .rls.command import mutation_report, mutation_test, property_report, property_test

    project = find_project()
    if mutate:
        # Scratch databases go on --dsn's server (it must allow CREATE DATABASE), else a throwaway local one.
        with Progress(transient=True) as progress:
            task = progress.add_task("mutants", total=None)
            verdicts = mutation_test(
                project, None if dsn is None else check_dsn(dsn, "--dsn"), examples=mutant_examples, seed_value=seed_value, jobs=jobs,
                on_start=lambda n: progress.update(task, total=n),
                on_verdict=lambda v: (Interrupt.check(), progress.advance(task)))
        survivors = [v for v in verdicts if not v.killed]
        if fmt != "text" or output:
            _emit_report(mutation_report(verdicts, seed_value), fmt, output, junit)
            return
        _write_junit(mutation_report(verdicts, seed_value), junit)
        for v in verdicts:
            click.echo(f"{'killed  ' if v.killed else 'SURVIVED'} {v.mutant.name}  ({v.mutant.source}): {v.reason}")
        click.echo(f"{len(verdicts) - len(survivors)}/{len(verdicts)} mutants killed")
        if survivors:
            raise ArbedbError(f"{len(survivors)} mutant(s) survived: the RLS tests would not notice those changes; "
                              "strengthen the checks or the worlds (tooling/arbedb/rls/)")
        return
    script_directory(project)
    target = resolve_dsn(project, dsn)
    commands.require_head(project, target.dsn)
    with Progress(transient=True) as progress:
        task = progress.add_task("worlds", total=examples)
        result, disagreement = None, None

        def found(message: str, world: int, seconds: float) -> None:
            # At once, before shrinking; on stdout unless stdout carries the report.
            click.echo(f"disagreement found in world {world} after {seconds:.1f}s (shrinking it for at most "
                       f"{shrink_seconds:g}s, --shrink-seconds):\n{message}", err=fmt != "text" and not output)
        try:
            result = property_test(target.dsn, load_permissions(project), examples=examples, seed_value=seed_value,
                                   on_example=lambda: (Interrupt.check(), progress.advance(task)), on_found=found,
                                   shrink_seconds=shrink_seconds)
        except Disagreement as exc:
            disagreement = str(exc)
    report = property_report(examples, seed_value, result, disagreement)
    if fmt != "text" or output:
        _emit_report(report, fmt, output, junit)
        return
    _write_junit(report, junit)
    if disagreement is not None:
        raise ArbedbError(f"RLS disagrees with the model: {disagreement}")
    click.echo(f"database: {target.origin}")
    click.echo(f"{result.examples} worlds, database and model agree ({result.seconds:.1f}s, seed {seed_value}); "
               "everything was rolled back")


@main.group()
def db() -> None:
    """The local PostgreSQL server arbedb owns (data in .arbedb/)."""


@db.command()
@_fail_cleanly
def start():
    """Start the local server (created on first start; same port as last time when it is free)."""
    server = project_server(find_project())
    url = server.start()
    click.echo(f"running: {url}  ({server.binaries.describe()}, data in {server.data})")


@db.command()
@_fail_cleanly
def stop():
    """Stop the local server; its data stays in .arbedb/ for the next start."""
    server = project_server(find_project())
    click.echo("stopped" if server.stop() else "not running")


@db.command()
@_fail_cleanly
def url():
    """Print the running local server's URL (for psql, DATABASE_URL, other tools)."""
    server = project_server(find_project())
    if not server.is_running():
        raise ArbedbError("the local server is not running; start it with `arbedb db start`")
    click.echo(server.url())
    click.echo(f"# {server.binaries.describe()}", err=True)


@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@_fail_cleanly
def psql(args):
    """psql on the local server (extra ARGS are passed through)."""
    server = project_server(find_project())
    url = server.start()
    exe = shutil.which("psql") or str(server.binaries.bindir / "psql")
    os.execv(exe, [exe, url, *args])


if __name__ == "__main__":  # pragma: no cover
    main()
