-- 002: the latest value of each metric per post, and reach per campaign, country, language and platform.

CREATE VIEW post_metrics_latest AS
SELECT * EXCLUDE (rn) FROM (
    SELECT s.*, row_number() OVER (
        PARTITION BY s.idempotency_key, s.canonical_name ORDER BY s.pulled_at DESC
    ) AS rn
    FROM metric_snapshots s
    WHERE s.canonical_name IS NOT NULL
) WHERE rn = 1;

CREATE VIEW post_metrics_wide AS
SELECT
    p.idempotency_key, p.campaign_id, p.asset_id, p.variant_id, p.language, p.format, p.account_id,
    p.platform, p.organisation_id, p.country, p.sandbox, p.state, p.published_at,
    max(CASE WHEN m.canonical_name = 'views' THEN m.canonical_value END)       AS views,
    max(CASE WHEN m.canonical_name = 'reach' THEN m.canonical_value END)       AS reach,
    max(CASE WHEN m.canonical_name = 'impressions' THEN m.canonical_value END) AS impressions,
    max(CASE WHEN m.canonical_name = 'likes' THEN m.canonical_value END)       AS likes,
    max(CASE WHEN m.canonical_name = 'comments' THEN m.canonical_value END)    AS comments,
    max(CASE WHEN m.canonical_name = 'shares' THEN m.canonical_value END)      AS shares,
    max(CASE WHEN m.canonical_name = 'saves' THEN m.canonical_value END)       AS saves,
    max(m.pulled_at) AS last_pulled_at
FROM posts p
LEFT JOIN post_metrics_latest m USING (idempotency_key)
GROUP BY ALL;

-- Reach is unique per post: summed across posts it is named "sum_of_post_reach", never "reach".
CREATE VIEW reach_by_country_language_platform AS
SELECT
    campaign_id, country, language, platform, bool_or(sandbox) AS sandbox,
    count(*) FILTER (WHERE state = 'published') AS posts_published,
    coalesce(sum(reach), 0)       AS sum_of_post_reach,
    coalesce(sum(views), 0)       AS views,
    coalesce(sum(likes), 0) + coalesce(sum(comments), 0) + coalesce(sum(shares), 0) + coalesce(sum(saves), 0) AS engagements
FROM post_metrics_wide
GROUP BY ALL
ORDER BY campaign_id, country, language, platform;
