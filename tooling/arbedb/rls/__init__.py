"""Property-based RLS verification: a reference model of SPEC §5, world generation, checks, mutants."""
