"""The probed permission matrix for people: a markdown table, or one self-contained HTML page."""

from __future__ import annotations

from .probe import CALLERS, Matrix

TITLE = "Permission matrix, as the database enforces it"
HOW = ("Each cell was found by executing the command as that caller (impersonated the Supabase way) "
       "on a world built inside a transaction that was then rolled back; nothing was read from policy text.")
LEGEND = {"yes": "allowed", "no": "refused (privilege, row-level security or a guard)",
          "–": "does not apply to this caller", "?": "could not be probed (see the reason)"}
DEPARTURES = "Where the database departs from the permission declarations (policies/permissions.toml)"


def render_markdown(matrix: Matrix) -> str:
    from tabulate import tabulate

    rows = [[probe.table, probe.action, *(cells[c].mark for c in CALLERS)] for probe, cells in matrix.rows]
    table = tabulate(rows, headers=["table", "command", *CALLERS], tablefmt="github")
    legend = "; ".join(f"`{mark}` {meaning}" for mark, meaning in LEGEND.items())
    lines = [f"# {TITLE}", "", f"{matrix.server}. {HOW}", "", table, "", legend]
    unclear = matrix.unclear()
    if unclear:
        lines += ["", "Not probed:", *(f"- {line}" for line in unclear)]
    if matrix.departures:
        lines += ["", DEPARTURES + ":", *(f"- {line}" for line in matrix.departures)]
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
  .yes { background: #d8f3dc; color: #14532d; }
  .no { background: #fde2e1; color: #7f1d1d; }
  .na { background: #eef0f3; color: #6b7280; }
  .unclear { background: #fff3c4; color: #713f12; }
  td sup { font-size: .7em; margin-left: .15em; }
  ol.why { columns: 2; max-width: 70rem; color: #333; }
  tr.first td { border-top: 2px solid #9aa3ad; }
  ul.legend { list-style: none; padding: 0; display: flex; gap: 1.2rem; flex-wrap: wrap; }
  ul.legend span { display: inline-block; padding: 0 .5rem; border: 1px solid #d4d8de; min-width: 1.2rem; text-align: center; }
</style></head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{{ server }}. {{ how }} The number in a cell is what decided it (listed under the table).</p>
<ul class="legend">{% for mark, meaning in legend %}<li><span class="swatch {{ mark.css }}">{{ mark.mark }}</span> {{ meaning }}</li>{% endfor %}</ul>
<table>
<thead><tr><th>table</th><th>command</th>{% for c in callers %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows %}<tr class="{{ 'first' if row.first else '' }}">
<td class="table">{{ row.table if row.first else '' }}</td><td class="command">{{ row.action }}</td>
{% for cell in row.cells %}<td class="{{ cell.css }}" title="{{ cell.reason }}">{{ cell.mark }}<sup>{{ cell.note }}</sup></td>{% endfor %}
</tr>
{% endfor %}</tbody></table>
{% if departures %}<h2>{{ departures_title }}</h2>
<ul class="departures">{% for line in departures %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
<h2>What decided each cell</h2>
<ol class="why">{% for reason in reasons %}<li>{{ reason }}</li>{% endfor %}</ol>
</body></html>
"""
_CSS = {"yes": "yes", "no": "no", "–": "na", "?": "unclear"}


def render_html(matrix: Matrix) -> str:
    from jinja2 import Environment

    rows, previous, notes = [], None, {}
    for probe, cells in matrix.rows:
        rows.append({"table": probe.table, "action": probe.action, "first": probe.table != previous,
                     "cells": [{"mark": cells[c].mark, "css": _CSS[cells[c].mark], "reason": cells[c].reason,
                                "note": notes.setdefault(cells[c].reason, len(notes) + 1)} for c in CALLERS]})
        previous = probe.table
    legend = [({"mark": mark, "css": _CSS[mark]}, meaning) for mark, meaning in LEGEND.items()]
    page = Environment(autoescape=True).from_string(_PAGE)
    return page.render(title=TITLE, server=matrix.server, how=HOW, callers=CALLERS, rows=rows, legend=legend,
                       reasons=list(notes), departures=matrix.departures, departures_title=DEPARTURES)
