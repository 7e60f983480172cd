"""`arbedb matrix`: the permission matrix found by execution, and its renderings."""
