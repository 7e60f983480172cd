"""Acting as callers, building worlds, and migrated databases for tests (the pytest plugin)."""
