"""Database URLs, connections and the embedded PostgreSQL server."""
