"""Property-based RLS verification: a reference model of docs/model.md §4, world generation, checks, mutants."""
