"""The warehouse: DuckDB schema and migrations, the publishing ledger, metric snapshots, impact views and report queries."""
