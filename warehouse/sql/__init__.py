"""Impact queries as plain SQL files, usable from any DuckDB client (see each file's header for its variables)."""
