"""The shared error path of every command: one line and exit 1 for an ArbedbError (or a path
that cannot be written), exit 130 for Ctrl-C with what it left behind; never a traceback."""

from __future__ import annotations

import signal
import sys
from functools import wraps

import click

from .errors import ArbedbError

# What Ctrl-C leaves behind, by command: each of these holds its work in a transaction.
ROLLED_BACK = {
    "apply": "the apply's transaction was rolled back: the database is as it was",
    "up": "the apply's transaction was rolled back: the database is as it was",
    "down": "the downgrade's transaction was rolled back: the database is as it was",
    "rls_test": "every world was rolled back: the database is as it was",
    "matrix": "the probe's transaction was rolled back: the database is as it was",
    "verify": "verify only reads: the database is as it was",
}
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program Ctrl-C stopped


class Interrupt:
    """Ctrl-C, remembered: code that catches what a cancelled query raises (psycopg turns
    KeyboardInterrupt during a query into a cancel and the server's QueryCanceled) must not
    make the command run on and exit 0."""

    seen = False

    @classmethod
    def handler(cls, signum, frame):
        cls.seen = True
        raise KeyboardInterrupt

    @classmethod
    def check(cls) -> None:
        if cls.seen:
            raise KeyboardInterrupt


def fail_cleanly(fn):
    """Every ArbedbError (and an unwritable path) becomes one line on stderr and exit 1; Ctrl-C,
    exit 130 with what it left behind; no traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        Interrupt.seen = False
        previous = signal.getsignal(signal.SIGINT)
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, Interrupt.handler)
        try:
            result = fn(*args, **kwargs)
            Interrupt.check()
            return result
        except ArbedbError as exc:
            if Interrupt.seen:  # a cancelled query's error, reported as such
                _interrupted(fn.__name__)
            click.echo(f"arbedb: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            _interrupted(fn.__name__)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"arbedb: error: cannot use{where} ({exc.strerror or exc}); check that the path exists "
                       "and is writable", err=True)
            sys.exit(1)
        finally:
            if previous is signal.default_int_handler:
                signal.signal(signal.SIGINT, previous)

    return wrapper


def _interrupted(command: str):
    left = ROLLED_BACK.get(command)
    click.echo(f"arbedb: interrupted{'; ' + left if left else ''}", err=True)
    sys.exit(EXIT_INTERRUPTED)
