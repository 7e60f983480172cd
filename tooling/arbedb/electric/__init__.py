"""Electric: what the apply hands electric/*.sql, the shape declarations, the pgoutput decoder."""
