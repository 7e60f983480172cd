"""The project's revision ids, read from migrations/versions/, so that tests naming
the head revision or the next one to be created keep up with new revisions."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEMS = sorted(p.stem for p in (ROOT / "migrations" / "versions").glob("[0-9]*_*.py"))  # "0001_auth_compat", …
REVISIONS = [stem.split("_")[0] for stem in STEMS]
HEAD = REVISIONS[-1]
NEXT = f"{int(HEAD) + 1:04d}"
