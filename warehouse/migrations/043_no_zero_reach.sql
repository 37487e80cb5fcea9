-- 043: the country x language x platform view no longer turns "not reported" into 0 (TikTok and X report no
-- reach; their sum of post reach is NULL, shown as "–"), like every other impact view.
CREATE OR REPLACE VIEW reach_by_country_language_platform AS
SELECT
    campaign_id, country, language, platform, bool_or(sandbox) AS sandbox,
    count(*) FILTER (WHERE state = 'published') AS posts_published,
    sum(reach)       AS sum_of_post_reach,
    sum(views)       AS views,
    sum(engagements) AS engagements,
    sum(engagements) FILTER (WHERE views > 0) / nullif(sum(views) FILTER (WHERE engagements IS NOT NULL), 0)
        AS engagement_rate,
    CASE WHEN bool_and(sandbox) THEN 'sandbox' WHEN bool_or(sandbox) THEN 'sandbox+live' ELSE 'live' END AS source
FROM post_metrics_wide
GROUP BY ALL
ORDER BY campaign_id, country, language, platform;
