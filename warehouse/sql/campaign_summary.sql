-- Campaign totals: posts, sum of post reach, views, engagements and engagement rate.
-- Variables: SET VARIABLE campaign_id = 'first-vote';
SELECT campaign_id, campaign_name, source, posts, posts_live, posts_measured, sum_of_post_reach, views, impressions,
       likes, comments, shares, saves, engagements, engagement_rate, watch_time_s, last_pulled_at
FROM impact_by_campaign
WHERE campaign_id = getvariable('campaign_id');
