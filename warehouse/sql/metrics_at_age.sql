-- Figures at a fixed post age (24 h, 7 d, 30 d) per platform, so young and old posts are compared fairly.
-- A post counts at an age only when it was measured within +-10 % of that age.
-- Variables: SET VARIABLE campaign_id = 'first-vote';
SELECT platform, age, any_value(age_h) AS age_h, count(*) AS posts_measured,
       sum(reach) AS sum_of_post_reach, sum(views) AS views, sum(engagements) AS engagements,
       sum(engagements) FILTER (WHERE views > 0) / nullif(sum(views) FILTER (WHERE engagements IS NOT NULL), 0)
           AS engagement_rate,
       CASE WHEN bool_and(sandbox) THEN 'sandbox' WHEN bool_or(sandbox) THEN 'sandbox+live' ELSE 'live' END AS source
FROM post_metrics_at_age_wide
WHERE campaign_id = getvariable('campaign_id')
GROUP BY platform, age
ORDER BY platform, any_value(age_h);
