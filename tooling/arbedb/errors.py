"""The one exception the CLI turns into a single error line and exit code 1."""


class ArbedbError(Exception):
    """A user-facing failure: the message says what, where and how to fix it."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a driver's error runs on with DETAIL, HINT and
    context lines), or its class name when it has none: what a one-line error quotes."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unusable_database(first: str) -> ArbedbError:
    """The one line for a database the apply could reach but not use (``first``: the driver's line)."""
    return ArbedbError(f"cannot use the database ({first}); check --dsn / DATABASE_URL")
