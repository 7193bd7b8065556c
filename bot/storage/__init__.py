"""Everything Kisah remembers, in SQLite: the store, its records, the cache."""
