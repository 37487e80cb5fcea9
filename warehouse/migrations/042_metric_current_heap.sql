-- 042: metric_current without a primary-key index. Each pull merges its batch with a hash join (delete the
-- touched rows, insert their merged values) instead of INSERT ... ON CONFLICT, which DuckDB runs row by row
-- through the index and which made the merge the slowest step of a pull (measured in benchmarks/metrics.py).
CREATE TABLE metric_current_next AS SELECT * FROM metric_current;
DROP TABLE metric_current;
ALTER TABLE metric_current_next RENAME TO metric_current;
