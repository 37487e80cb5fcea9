-- Reach and engagement per organisation, country, language, platform, format and asset (one row per value).
-- Reach is unique per post: summed over posts it is "sum_of_post_reach", not the number of people reached.
-- Variables: SET VARIABLE campaign_id = 'first-vote';
SELECT b.dimension, b.value, o.name AS label, b.source, b.posts, b.posts_live, b.posts_measured, b.sum_of_post_reach,
       b.views, b.impressions, b.likes, b.comments, b.shares, b.saves, b.engagements, b.engagement_rate, b.watch_time_s
FROM impact_breakdown b
LEFT JOIN organisations o
    ON b.dimension = 'organisation' AND o.campaign_id = b.campaign_id AND o.organisation_id = b.value
WHERE b.campaign_id = getvariable('campaign_id') AND b.dimension <> 'campaign'
ORDER BY CASE b.dimension WHEN 'organisation' THEN 1 WHEN 'country' THEN 2 WHEN 'language' THEN 3
                          WHEN 'platform' THEN 4 WHEN 'format' THEN 5 ELSE 6 END,
         b.sum_of_post_reach DESC NULLS LAST, b.views DESC NULLS LAST, b.value;
