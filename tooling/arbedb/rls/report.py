"""How a disagreement reads: short labels for ids, and the world it happened in.

Only built when a check fails (the checks pass thousands of times per run), so
nothing here is on the hot path.
"""

from __future__ import annotations

from uuid import UUID

from .model import World


def labels(world: World) -> dict[UUID, str]:
    """user0, house 0, threads#2: users by email, houses by name, rows by id within their table."""
    out = {u: f"user{i}" for i, (u, _) in enumerate(sorted(world.users.items(), key=lambda kv: kv[1]))}
    for h, row in world.rows["houses"].items():
        out[h] = row.data.get("name") or f"houses#{h.hex[:8]}"
    for table in [t for t in world.perms.names if t != "houses"]:
        for i, row_id in enumerate(sorted(world.rows[table], key=str)):
            out[row_id] = f"{table}#{i}"
    return out


def namer(world: World):
    """``name(ids)``: the sorted labels of some ids, for one-line messages."""

    def name(ids):
        known = labels(world)
        return sorted(known.get(i, str(i)[:8]) for i in ids)

    return name


def describe(world: World, history: list[str]) -> str:
    """The world as it stood when the database and the model parted, and the writes
    (accepted or refused) that led there; after shrinking, this is the smallest one."""
    known = labels(world)

    def show(value):
        return known[value] if isinstance(value, UUID) and value in known else repr(value)

    lines = ["world at the disagreement:"]
    lines += [f"  {known[u]} = {str(u)[:8]} <{email}>" for u, email in sorted(world.users.items(), key=lambda kv: kv[1])]
    for house_id, house in sorted(world.rows["houses"].items(), key=lambda kv: kv[1].data["name"]):
        lines.append(f"  {known[house_id]} = {str(house_id)[:8]}{' (deleted)' if house.deleted else ''}, "
                     f"created_by {show(house.data['created_by'])}")
        for table in [t for t in world.perms.names if t != "houses"]:
            for row_id, row in sorted(world.rows[table].items(), key=lambda kv: known[kv[0]]):
                if row.house_id != house_id:
                    continue
                data = ", ".join(f"{k}={show(v)}" for k, v in row.data.items() if v is not None)
                lines.append(f"    {known[row_id]} = {str(row_id)[:8]}{' (deleted)' if row.deleted else ''}: {data}")
    if history:
        lines.append("writes before it, in order:")
        lines += [f"  {step}" for step in history]
    return "\n".join(lines)
