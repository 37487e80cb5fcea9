-- Every post of the campaign with its latest figures (NULL = not reported yet, never 0).
-- Variables: SET VARIABLE campaign_id = 'first-vote';
SELECT account_id, platform, organisation_id, country, language, format, asset_id, caption_style, state, sandbox,
       published_at, views, reach, impressions, likes, comments, shares, saves, engagements, engagement_rate,
       watch_time, completion_rate, definition_changed, last_pulled_at, post_url
FROM post_metrics_wide
WHERE campaign_id = getvariable('campaign_id')
ORDER BY platform, country, language, account_id, published_at;
