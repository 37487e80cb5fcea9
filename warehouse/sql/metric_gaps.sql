-- Raw platform metrics that are not mapped to the common vocabulary, and series whose definition changed
-- (a renamed platform metric): what a reader must know before comparing figures.
-- Variables: SET VARIABLE campaign_id = 'first-vote';
SELECT 'unmapped' AS kind, c.platform, c.raw_name AS metric, count(*) AS posts,
       coalesce(m.note, 'unknown to Chorus: kept raw, not counted') AS detail
FROM metric_current c
LEFT JOIN metric_mappings m ON m.platform = c.platform AND m.raw_name = c.raw_name
WHERE c.campaign_id = getvariable('campaign_id') AND c.canonical_name IS NULL
GROUP BY ALL
UNION ALL
SELECT 'definition changed', platform, canonical_name, count(*), any_value(definition_versions)
FROM post_metrics_latest
WHERE campaign_id = getvariable('campaign_id') AND definition_changed
GROUP BY ALL
ORDER BY 1, 2, 3;
