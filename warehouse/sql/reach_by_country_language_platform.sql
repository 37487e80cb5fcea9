-- Sum of post reach, views and engagements per country x language x platform.
-- Variables: SET VARIABLE campaign_id = 'first-vote';
SELECT country, language, platform, source, sandbox, posts_published, sum_of_post_reach, views, engagements, engagement_rate
FROM reach_by_country_language_platform
WHERE campaign_id = getvariable('campaign_id')
ORDER BY country, language, platform;
