"""arbedb: version-controlled SQL and tooling for Arbe's house-scoped schema."""

__version__ = "0.1.0"
