"""The probed permission matrix for people: a markdown table, or one self-contained HTML page."""

from __future__ import annotations

from .probe import CALLERS, Matrix

TITLE = "Permission matrix, as the database enforces it"
HOW = ("Each cell was found by executing the command as that caller (impersonated the Supabase way) "
       "on a world built inside a transaction that was then rolled back; nothing was read from policy text.")
LEGEND = {"yes": "allowed", "no": "refused (privilege, row-level security or a guard)",
          "–": "does not apply to this caller", "?": "could not be probed (see the reason)"}


def render_markdown(matrix: Matrix) -> str:
    from tabulate import tabulate

    rows = [[probe.table, probe.action, *(cells[c].mark for c in CALLERS)] for probe, cells in matrix.rows]
    table = tabulate(rows, headers=["table", "command", *CALLERS], tablefmt="github")
    legend = "; ".join(f"`{mark}` {meaning}" for mark, meaning in LEGEND.items())
    lines = [f"# {TITLE}", "", f"{matrix.server}. {HOW}", "", table, "", legend]
    unclear = matrix.unclear()
    if unclear:
        lines += ["", "Not probed:", *(f"- {line}" for line in unclear)]
    return "\n".join(lines) + "\n"


# One file, no external resource: it is attached to CI runs and opened from disk.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1d232b; }
  h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
  p.meta { color: #555; max-width: 60rem; }
  table { border-collapse: collapse; margin-top: 1rem; }
  th, td { border: 1px solid #d4d8de; padding: .3rem .6rem; text-align: center; }
  th { background: #f1f3f6; position: sticky; top: 0; }
  td.table { text-align: left; font-weight: 600; background: #fafbfc; }
  td.command { text-align: left; font-family: ui-monospace, monospace; }
  td.yes { background: #d8f3dc; color: #14532d; }
  td.no { background: #fde2e1; color: #7f1d1d; }
  td.na { background: #eef0f3; color: #6b7280; }
  td.unclear { background: #fff3c4; color: #713f12; }
  tr.first td { border-top: 2px solid #9aa3ad; }
  ul.legend { list-style: none; padding: 0; display: flex; gap: 1.2rem; flex-wrap: wrap; }
  ul.legend span { display: inline-block; padding: 0 .5rem; border: 1px solid #d4d8de; }
</style></head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{{ server }}. {{ how }} Hover a cell for what decided it.</p>
<table>
<thead><tr><th>table</th><th>command</th>{% for c in callers %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows %}<tr class="{{ 'first' if row.first else '' }}">
<td class="table">{{ row.table if row.first else '' }}</td><td class="command">{{ row.action }}</td>
{% for cell in row.cells %}<td class="{{ cell.css }}" title="{{ cell.reason }}">{{ cell.mark }}</td>{% endfor %}
</tr>
{% endfor %}</tbody></table>
<ul class="legend">{% for mark, meaning in legend.items() %}<li><span>{{ mark }}</span> {{ meaning }}</li>{% endfor %}</ul>
</body></html>
"""
_CSS = {"yes": "yes", "no": "no", "–": "na", "?": "unclear"}


def render_html(matrix: Matrix) -> str:
    from jinja2 import Environment

    rows, previous = [], None
    for probe, cells in matrix.rows:
        rows.append({"table": probe.table, "action": probe.action, "first": probe.table != previous,
                     "cells": [{"mark": cells[c].mark, "css": _CSS[cells[c].mark], "reason": cells[c].reason}
                               for c in CALLERS]})
        previous = probe.table
    page = Environment(autoescape=True).from_string(_PAGE)
    return page.render(title=TITLE, server=matrix.server, how=HOW, callers=CALLERS, rows=rows, legend=LEGEND)
