-- 045: the same latest-figures logic as 044 with cheaper aggregates (no per-group sorted lists, no window), so
-- each pull's refresh of metric_latest costs less. Definition versions read "oldest -> newest" when they differ.
CREATE OR REPLACE VIEW post_metrics_latest_live AS
WITH c AS (
    SELECT c.*, coalesce(m.part, false) AS part, coalesce(m.rank, 0) AS rank, coalesce(m.status, 'current') AS status
    FROM metric_current c
    LEFT JOIN metric_mappings m ON m.platform = c.platform AND m.raw_name = c.raw_name
    WHERE c.canonical_name IS NOT NULL AND c.last_value IS NOT NULL
), g AS (
    SELECT idempotency_key, canonical_name, max(last_pulled_at) AS newest_pull,
           min(definition_version) AS v_min, max(definition_version) AS v_max,
           bool_or(status <> 'current') AS any_old
    FROM c GROUP BY ALL
)
SELECT c.idempotency_key, any_value(c.campaign_id) AS campaign_id, any_value(c.platform) AS platform,
       c.canonical_name,
       CASE WHEN bool_or(c.part) THEN sum(c.last_value) FILTER (WHERE c.part)
            ELSE arg_min(c.last_value, c.rank) END AS canonical_value,
       max(c.last_pulled_at) AS pulled_at,
       CASE WHEN count(*) = 1 THEN any_value(c.raw_name) ELSE string_agg(c.raw_name, '+') END AS raw_names,
       arg_min(c.definition_version, c.rank) AS definition_version,
       CASE WHEN any_value(g.v_min) = any_value(g.v_max) THEN any_value(g.v_min)
            ELSE any_value(g.v_min) || ' -> ' || any_value(g.v_max) END AS definition_versions,
       any_value(g.v_min) <> any_value(g.v_max) AND any_value(g.any_old) AS definition_changed,
       bool_or(c.sandbox) AS sandbox
FROM c JOIN g ON g.idempotency_key = c.idempotency_key AND g.canonical_name = c.canonical_name
              AND c.last_pulled_at = g.newest_pull
GROUP BY c.idempotency_key, c.canonical_name;
