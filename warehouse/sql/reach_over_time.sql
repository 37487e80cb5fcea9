-- Sum of post reach and views over time: in each period every post counts with its latest figure so far.
-- Variables: SET VARIABLE campaign_id = 'first-vote'; optional SET VARIABLE bucket = 'hour' (minute|hour|day).
WITH snaps AS (
    SELECT idempotency_key, canonical_name,
           date_trunc(coalesce(getvariable('bucket'), 'day'), pulled_at) AS period, canonical_value
    FROM metric_snapshots
    WHERE campaign_id = getvariable('campaign_id') AND canonical_name IN ('reach', 'views')
          AND canonical_value IS NOT NULL
), per_period AS (
    SELECT idempotency_key, canonical_name, period, max(canonical_value) AS value FROM snaps GROUP BY ALL
), periods AS (
    SELECT DISTINCT period FROM per_period
), series AS (
    SELECT DISTINCT idempotency_key, canonical_name FROM per_period
), grid AS (
    SELECT * FROM periods CROSS JOIN series
)
SELECT g.period,
       sum(p.value) FILTER (WHERE g.canonical_name = 'reach') AS sum_of_post_reach,
       sum(p.value) FILTER (WHERE g.canonical_name = 'views') AS views,
       count(DISTINCT g.idempotency_key) FILTER (WHERE p.value IS NOT NULL) AS posts
FROM grid g
ASOF LEFT JOIN per_period p
    ON p.idempotency_key = g.idempotency_key AND p.canonical_name = g.canonical_name AND g.period >= p.period
GROUP BY g.period
ORDER BY g.period;
