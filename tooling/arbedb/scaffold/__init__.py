"""`arbedb new-table`: the scaffold command and the SQL it writes."""
