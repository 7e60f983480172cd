"""The one exception the CLI turns into a single error line and exit code 1."""


class ArbedbError(Exception):
    """A user-facing failure: the message says what, where and how to fix it."""
