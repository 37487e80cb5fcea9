-- 041: impact views over the current post metrics (metric_current, merged by every pull). They replace 002's views
-- (same names, same leading columns) and add engagement, KPI progress, fixed-age figures and variant comparisons.
-- Reach is unique per post: summed over posts it is always named "sum_of_post_reach", never "reach".

-- The latest value of each canonical metric per post. Old and new names of one figure (Instagram `plays` ->
-- `views`) are alternatives: the newest pull wins, and within one pull the current name (lowest rank) wins.
-- Parts (X retweets + quotes = shares) are added up.
CREATE OR REPLACE VIEW post_metrics_latest AS
WITH c AS (
    SELECT c.*, coalesce(m.part, false) AS part, coalesce(m.rank, 0) AS rank, coalesce(m.status, 'current') AS status
    FROM metric_current c
    LEFT JOIN metric_mappings m ON m.platform = c.platform AND m.raw_name = c.raw_name
    WHERE c.canonical_name IS NOT NULL AND c.last_value IS NOT NULL
), history AS (
    -- A definition change is a retired or renamed name followed by another definition (not two current
    -- alternatives answered side by side, like YouTube's Data API and Analytics views).
    SELECT idempotency_key, canonical_name,
           string_agg(DISTINCT definition_version, ' -> ' ORDER BY definition_version) AS definition_versions,
           count(DISTINCT definition_version) > 1 AND bool_or(status <> 'current') AS definition_changed
    FROM c GROUP BY ALL
), newest AS (
    SELECT *, max(last_pulled_at) OVER (PARTITION BY idempotency_key, canonical_name) AS newest_pull FROM c
)
SELECT n.idempotency_key, any_value(n.campaign_id) AS campaign_id, any_value(n.platform) AS platform, n.canonical_name,
       CASE WHEN bool_or(n.part) THEN sum(n.last_value) FILTER (WHERE n.part)
            ELSE arg_min(n.last_value, n.rank) END AS canonical_value,
       max(n.last_pulled_at) AS pulled_at,
       string_agg(n.raw_name, '+' ORDER BY n.rank, n.raw_name) AS raw_names,
       arg_min(n.definition_version, n.rank) AS definition_version,
       any_value(h.definition_versions) AS definition_versions,
       any_value(h.definition_changed) AS definition_changed,
       bool_or(n.sandbox) AS sandbox
FROM newest n JOIN history h USING (idempotency_key, canonical_name)
WHERE n.last_pulled_at = n.newest_pull
GROUP BY n.idempotency_key, n.canonical_name;

-- One row per post of the ledger with its latest figures (NULL = not reported, never 0).
CREATE OR REPLACE VIEW post_metrics_wide AS
WITH m AS (
    SELECT idempotency_key,
        max(canonical_value) FILTER (WHERE canonical_name = 'views')                AS views,
        max(canonical_value) FILTER (WHERE canonical_name = 'reach')                AS reach,
        max(canonical_value) FILTER (WHERE canonical_name = 'impressions')          AS impressions,
        max(canonical_value) FILTER (WHERE canonical_name = 'likes')                AS likes,
        max(canonical_value) FILTER (WHERE canonical_name = 'comments')             AS comments,
        max(canonical_value) FILTER (WHERE canonical_name = 'shares')               AS shares,
        max(canonical_value) FILTER (WHERE canonical_name = 'saves')                AS saves,
        max(canonical_value) FILTER (WHERE canonical_name = 'watch_time')           AS watch_time,
        max(canonical_value) FILTER (WHERE canonical_name = 'avg_watch_time')       AS avg_watch_time,
        max(canonical_value) FILTER (WHERE canonical_name = 'completion_rate')      AS completion_rate,
        max(canonical_value) FILTER (WHERE canonical_name = 'avg_percent_viewed')   AS avg_percent_viewed,
        max(canonical_value) FILTER (WHERE canonical_name = 'completions')          AS completions,
        max(canonical_value) FILTER (WHERE canonical_name = 'replays')              AS replays,
        max(canonical_value) FILTER (WHERE canonical_name = 'followers_gained')     AS followers_gained,
        max(canonical_value) FILTER (WHERE canonical_name = 'followers_lost')       AS followers_lost,
        max(canonical_value) FILTER (WHERE canonical_name = 'clicks')               AS clicks,
        max(canonical_value) FILTER (WHERE canonical_name = 'platform_engagements') AS platform_engagements,
        max(canonical_value) FILTER (WHERE canonical_name = 'skip_rate')            AS skip_rate,
        max(pulled_at) AS last_pulled_at,
        bool_or(definition_changed) AS definition_changed
    FROM post_metrics_latest GROUP BY idempotency_key
)
SELECT
    p.idempotency_key, p.campaign_id, p.asset_id, p.variant_id, p.language, p.format, p.account_id,
    p.platform, p.organisation_id, p.country, p.sandbox, p.state, p.published_at,
    m.views, m.reach, m.impressions, m.likes, m.comments, m.shares, m.saves, m.last_pulled_at,
    m.watch_time, m.avg_watch_time,
    coalesce(m.completion_rate, m.completions / nullif(m.views, 0)) AS completion_rate,
    m.avg_percent_viewed, m.completions, m.replays, m.followers_gained, m.followers_lost, m.clicks,
    m.platform_engagements, m.skip_rate,
    CASE WHEN coalesce(m.likes, m.comments, m.shares, m.saves) IS NOT NULL
         THEN coalesce(m.likes, 0) + coalesce(m.comments, 0) + coalesce(m.shares, 0) + coalesce(m.saves, 0)
    END AS engagements,
    engagements / nullif(m.views, 0) AS engagement_rate,
    coalesce(m.definition_changed, false) AS definition_changed,
    (p.state IN ('published', 'scheduled') AND p.platform_post_id IS NOT NULL) AS live,
    p.post_url,
    -- The post text ("caption" on social platforms): the platform's own text or the language's default text.
    CASE WHEN (c.manifest -> 'posts' -> p.language -> p.platform) IS NOT NULL THEN 'platform text'
         ELSE 'default text' END AS caption_style
FROM posts p
LEFT JOIN m USING (idempotency_key)
LEFT JOIN campaigns c ON c.campaign_id = p.campaign_id;

-- The same figures, one row per post and metric (only metrics the post has: a missing one is absent, not 0).
CREATE OR REPLACE VIEW post_metrics_long AS
SELECT * FROM (
    UNPIVOT (
        SELECT idempotency_key, campaign_id, asset_id, organisation_id, country, language, platform, format, sandbox,
               published_at, views AS base_views, engagements AS base_engagements,
               views, reach, impressions, likes, comments, shares, saves, watch_time, avg_watch_time, completion_rate,
               avg_percent_viewed, completions, replays, followers_gained, followers_lost, clicks,
               platform_engagements, skip_rate, engagements, engagement_rate
        FROM post_metrics_wide WHERE live
    )
    ON views, reach, impressions, likes, comments, shares, saves, watch_time, avg_watch_time, completion_rate,
       avg_percent_viewed, completions, replays, followers_gained, followers_lost, clicks, platform_engagements,
       skip_rate, engagements, engagement_rate
    INTO NAME metric VALUE value
);

-- Reach and engagement per campaign, organisation, country, language, platform, format and asset.
CREATE OR REPLACE VIEW impact_breakdown AS
SELECT
    campaign_id,
    CASE WHEN grouping(organisation_id) = 0 THEN 'organisation'
         WHEN grouping(country) = 0 THEN 'country'
         WHEN grouping(language) = 0 THEN 'language'
         WHEN grouping(platform) = 0 THEN 'platform'
         WHEN grouping(format) = 0 THEN 'format'
         WHEN grouping(asset_id) = 0 THEN 'asset'
         ELSE 'campaign' END AS dimension,
    coalesce(organisation_id, country, language, platform, format, asset_id, campaign_id) AS value,
    CASE WHEN bool_and(sandbox) THEN 'sandbox' WHEN bool_or(sandbox) THEN 'sandbox+live' ELSE 'live' END AS source,
    count(*) AS posts,
    count(*) FILTER (WHERE live) AS posts_live,
    count(last_pulled_at) AS posts_measured,
    sum(reach) AS sum_of_post_reach,
    sum(views) AS views,
    sum(impressions) AS impressions,
    sum(likes) AS likes,
    sum(comments) AS comments,
    sum(shares) AS shares,
    sum(saves) AS saves,
    sum(engagements) AS engagements,
    sum(engagements) FILTER (WHERE views > 0) / nullif(sum(views) FILTER (WHERE engagements IS NOT NULL), 0)
        AS engagement_rate,
    sum(watch_time) AS watch_time_s,
    max(last_pulled_at) AS last_pulled_at
FROM post_metrics_wide
GROUP BY GROUPING SETS ((campaign_id), (campaign_id, organisation_id), (campaign_id, country), (campaign_id, language),
                        (campaign_id, platform), (campaign_id, format), (campaign_id, asset_id));

CREATE OR REPLACE VIEW impact_by_campaign AS
SELECT b.* EXCLUDE (dimension, value), c.name AS campaign_name
FROM impact_breakdown b LEFT JOIN campaigns c USING (campaign_id) WHERE dimension = 'campaign';
CREATE OR REPLACE VIEW impact_by_organisation AS
SELECT b.campaign_id, b.value AS organisation_id, o.name AS organisation, b.* EXCLUDE (campaign_id, dimension, value)
FROM impact_breakdown b
LEFT JOIN organisations o ON o.campaign_id = b.campaign_id AND o.organisation_id = b.value
WHERE dimension = 'organisation';
CREATE OR REPLACE VIEW impact_by_country AS
SELECT campaign_id, value AS country, * EXCLUDE (campaign_id, dimension, value) FROM impact_breakdown WHERE dimension = 'country';
CREATE OR REPLACE VIEW impact_by_language AS
SELECT campaign_id, value AS language, * EXCLUDE (campaign_id, dimension, value) FROM impact_breakdown WHERE dimension = 'language';
CREATE OR REPLACE VIEW impact_by_platform AS
SELECT campaign_id, value AS platform, * EXCLUDE (campaign_id, dimension, value) FROM impact_breakdown WHERE dimension = 'platform';
CREATE OR REPLACE VIEW impact_by_format AS
SELECT campaign_id, value AS format, * EXCLUDE (campaign_id, dimension, value) FROM impact_breakdown WHERE dimension = 'format';
CREATE OR REPLACE VIEW impact_by_asset AS
SELECT campaign_id, value AS asset_id, * EXCLUDE (campaign_id, dimension, value) FROM impact_breakdown WHERE dimension = 'asset';

-- 002's combined view, kept by name with the same leading columns.
CREATE OR REPLACE VIEW reach_by_country_language_platform AS
SELECT
    campaign_id, country, language, platform, bool_or(sandbox) AS sandbox,
    count(*) FILTER (WHERE state = 'published') AS posts_published,
    coalesce(sum(reach), 0)       AS sum_of_post_reach,
    coalesce(sum(views), 0)       AS views,
    coalesce(sum(engagements), 0) AS engagements,
    sum(engagements) FILTER (WHERE views > 0) / nullif(sum(views) FILTER (WHERE engagements IS NOT NULL), 0)
        AS engagement_rate,
    CASE WHEN bool_and(sandbox) THEN 'sandbox' WHEN bool_or(sandbox) THEN 'sandbox+live' ELSE 'live' END AS source
FROM post_metrics_wide
GROUP BY ALL
ORDER BY campaign_id, country, language, platform;

-- Progress against every KPI of the manifest. The reference date is `SET VARIABLE as_of = DATE '...'` when set,
-- otherwise today. A KPI whose posts have no figure for its metric shows NULL (unknown), not 0.
CREATE OR REPLACE VIEW kpi_progress AS
WITH k AS (
    SELECT k.*, coalesce(d.unit, 'count') AS unit, coalesce(d.unique_count, false) AS unique_count,
           coalesce(TRY_CAST(getvariable('as_of') AS DATE), current_date) AS as_of
    FROM kpis k LEFT JOIN metric_definitions d ON d.canonical_name = k.metric
), scope AS (
    SELECT k.campaign_id, k.objective_id, k.kpi_index, k.metric, p.idempotency_key, p.platform, p.published_at,
           p.sandbox
    FROM k JOIN post_metrics_wide p ON p.campaign_id = k.campaign_id AND p.live
        AND (len(k.countries) = 0 OR list_contains(k.countries, p.country))
        AND (len(k.languages) = 0 OR list_contains(k.languages, p.language))
        AND (len(k.platforms) = 0 OR list_contains(k.platforms, p.platform))
), vals AS (
    SELECT s.campaign_id, s.objective_id, s.kpi_index,
           count(*) AS posts_in_scope,
           count(l.value) AS posts_measured,
           sum(l.value) AS total,
           sum(l.value * l.base_views) / nullif(sum(l.base_views) FILTER (WHERE l.value IS NOT NULL), 0) AS view_weighted,
           sum(l.base_engagements) FILTER (WHERE l.base_views > 0)
               / nullif(sum(l.base_views) FILTER (WHERE l.base_engagements IS NOT NULL), 0) AS engagement_rate,
           list(DISTINCT s.platform ORDER BY s.platform) FILTER (WHERE l.value IS NULL) AS platforms_missing,
           min(s.published_at) AS first_published_at,
           bool_or(s.sandbox) AS any_sandbox, bool_and(s.sandbox) AS all_sandbox
    FROM scope s
    LEFT JOIN post_metrics_long l ON l.idempotency_key = s.idempotency_key AND l.metric = s.metric
    GROUP BY ALL
)
SELECT
    k.campaign_id, k.objective_id, k.kpi_index, k.metric,
    CASE WHEN k.unique_count THEN 'sum of post ' || k.metric ELSE k.metric END AS measure,
    k.countries, k.languages, k.platforms, k.description,
    coalesce(v.posts_in_scope, 0) AS posts_in_scope,
    coalesce(v.posts_measured, 0) AS posts_measured,
    coalesce(v.platforms_missing, []) AS platforms_missing,
    CASE WHEN coalesce(v.posts_in_scope, 0) = 0 THEN 0
         WHEN v.posts_measured = 0 THEN NULL
         WHEN k.metric = 'engagement_rate' THEN v.engagement_rate
         WHEN k.unit = 'ratio' OR k.metric LIKE 'avg\_%' ESCAPE '\' THEN v.view_weighted
         ELSE v.total END AS value,
    k.target,
    value / k.target AS progress,
    k.deadline,
    k.as_of,
    k.deadline - k.as_of AS days_left,
    (k.unit <> 'ratio' AND k.metric NOT LIKE 'avg\_%' ESCAPE '\') AS additive,
    CASE WHEN additive AND days_left > 0 THEN greatest(k.target - coalesce(value, 0), 0) / days_left END AS needed_per_day,
    CASE WHEN additive AND value IS NOT NULL AND v.first_published_at IS NOT NULL
         THEN value / greatest(k.as_of - v.first_published_at::DATE, 1) END AS per_day_so_far,
    CASE WHEN value IS NULL THEN NULL
         WHEN value >= k.target THEN true
         WHEN NOT additive THEN false
         WHEN days_left IS NULL OR days_left <= 0 THEN false
         ELSE value + per_day_so_far * days_left >= k.target END AS on_track,
    CASE WHEN v.all_sandbox THEN 'sandbox' WHEN v.any_sandbox THEN 'sandbox+live' WHEN v.any_sandbox IS NULL THEN NULL
         ELSE 'live' END AS source
FROM k LEFT JOIN vals v USING (campaign_id, objective_id, kpi_index)
ORDER BY k.campaign_id, k.objective_id, k.kpi_index;

-- Figures at a fixed post age (24 h, 7 d, 30 d), so a two-day-old post is compared fairly with a month-old one.
CREATE OR REPLACE VIEW post_metrics_at_age AS
WITH c AS (
    SELECT c.*, coalesce(m.part, false) AS part, coalesce(m.rank, 0) AS rank
    FROM metric_current c
    LEFT JOIN metric_mappings m ON m.platform = c.platform AND m.raw_name = c.raw_name
    WHERE c.canonical_name IS NOT NULL
), ages AS (
    SELECT idempotency_key, canonical_name, part, rank, '24h' AS age, 24 AS age_h, at_24h AS value, at_24h_age_s AS measured_age_s FROM c
    UNION ALL
    SELECT idempotency_key, canonical_name, part, rank, '7d', 168, at_7d, at_7d_age_s FROM c
    UNION ALL
    SELECT idempotency_key, canonical_name, part, rank, '30d', 720, at_30d, at_30d_age_s FROM c
)
SELECT idempotency_key, canonical_name, age, any_value(age_h) AS age_h,
       CASE WHEN bool_or(part) THEN sum(value) FILTER (WHERE part) ELSE arg_min(value, rank) END AS value,
       arg_min(measured_age_s, rank) / 3600.0 AS measured_at_age_h
FROM ages WHERE value IS NOT NULL
GROUP BY idempotency_key, canonical_name, age;

CREATE OR REPLACE VIEW post_metrics_at_age_wide AS
WITH a AS (
    SELECT idempotency_key, age, any_value(age_h) AS age_h,
        max(value) FILTER (WHERE canonical_name = 'views')    AS views,
        max(value) FILTER (WHERE canonical_name = 'reach')    AS reach,
        max(value) FILTER (WHERE canonical_name = 'likes')    AS likes,
        max(value) FILTER (WHERE canonical_name = 'comments') AS comments,
        max(value) FILTER (WHERE canonical_name = 'shares')   AS shares,
        max(value) FILTER (WHERE canonical_name = 'saves')    AS saves,
        max(value) FILTER (WHERE canonical_name = 'watch_time') AS watch_time
    FROM post_metrics_at_age GROUP BY ALL
)
SELECT p.idempotency_key, p.campaign_id, p.asset_id, p.organisation_id, p.country, p.language, p.platform, p.format,
       p.sandbox, a.age, a.age_h, a.views, a.reach, a.likes, a.comments, a.shares, a.saves, a.watch_time,
       CASE WHEN coalesce(a.likes, a.comments, a.shares, a.saves) IS NOT NULL
            THEN coalesce(a.likes, 0) + coalesce(a.comments, 0) + coalesce(a.shares, 0) + coalesce(a.saves, 0)
       END AS engagements,
       engagements / nullif(a.views, 0) AS engagement_rate
FROM a JOIN posts p USING (idempotency_key);

-- Variants of one asset compared on engagement rate (engagements per view), per dimension: language, format,
-- platform and caption style. The interval is a 95 % Wilson score interval on the rate; `diff_low`/`diff_high`
-- bound the gap to the best variant of the same asset and dimension (Newcombe's method): when diff_low > 0 the
-- best variant is ahead beyond chance. Treating each view as one trial ignores repeat engagement by one viewer,
-- so the interval is on the optimistic side; it says how sure, not that the comparison is free of confounders.
CREATE OR REPLACE VIEW variant_rates AS
WITH u AS (
    SELECT * FROM (
        UNPIVOT (
            SELECT campaign_id, asset_id, sandbox, views, engagements,
                   language, format, platform, caption_style
            FROM post_metrics_wide
            WHERE live AND views > 0 AND engagements IS NOT NULL
        )
        ON language, format, platform, caption_style
        INTO NAME dimension VALUE variant
    )
), g AS (
    SELECT campaign_id, asset_id, dimension, variant,
           count(*) AS posts, sum(views) AS views, sum(engagements) AS engagements,
           least(sum(engagements) / sum(views), 1.0) AS rate,
           CASE WHEN bool_and(sandbox) THEN 'sandbox' WHEN bool_or(sandbox) THEN 'sandbox+live' ELSE 'live' END AS source
    FROM u GROUP BY ALL
)
SELECT *,
       (rate + 1.96 ^ 2 / (2 * views) - 1.96 * sqrt(rate * (1 - rate) / views + 1.96 ^ 2 / (4 * views ^ 2)))
           / (1 + 1.96 ^ 2 / views) AS rate_low,
       (rate + 1.96 ^ 2 / (2 * views) + 1.96 * sqrt(rate * (1 - rate) / views + 1.96 ^ 2 / (4 * views ^ 2)))
           / (1 + 1.96 ^ 2 / views) AS rate_high,
       count(*) OVER (PARTITION BY campaign_id, asset_id, dimension) AS variants,
       row_number() OVER (PARTITION BY campaign_id, asset_id, dimension ORDER BY rate DESC, views DESC, variant) AS rank
FROM g;

CREATE OR REPLACE VIEW variant_comparison AS
WITH r AS (SELECT * FROM variant_rates WHERE variants > 1),
best AS (SELECT * FROM r WHERE rank = 1),
second AS (SELECT * FROM r WHERE rank = 2)
SELECT r.campaign_id, r.asset_id, r.dimension, r.variant, r.rank, r.variants, r.posts, r.views, r.engagements,
       r.rate, r.rate_low, r.rate_high, r.source,
       -- For the best variant: its lead over the runner-up; for the others: how far behind the best they are.
       CASE WHEN r.rank = 1 THEN s.variant ELSE b.variant END AS compared_with,
       CASE WHEN r.rank = 1 THEN r.rate - s.rate ELSE b.rate - r.rate END AS diff,
       CASE WHEN r.rank = 1
            THEN (r.rate - s.rate) - sqrt((r.rate - r.rate_low) ^ 2 + (s.rate_high - s.rate) ^ 2)
            ELSE (b.rate - r.rate) - sqrt((b.rate - b.rate_low) ^ 2 + (r.rate_high - r.rate) ^ 2) END AS diff_low,
       CASE WHEN r.rank = 1
            THEN (r.rate - s.rate) + sqrt((r.rate_high - r.rate) ^ 2 + (s.rate - s.rate_low) ^ 2)
            ELSE (b.rate - r.rate) + sqrt((b.rate_high - b.rate) ^ 2 + (r.rate - r.rate_low) ^ 2) END AS diff_high,
       diff_low > 0 AS sure
FROM r
JOIN best b USING (campaign_id, asset_id, dimension)
JOIN second s USING (campaign_id, asset_id, dimension);
