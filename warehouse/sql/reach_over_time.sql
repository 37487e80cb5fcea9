-- Sum of post reach and views over time: one point per pull (the campaign's totals of every post's latest figure
-- at that pull), the last point of each period when grouped.
-- Variables: SET VARIABLE campaign_id = 'first-vote'; optional SET VARIABLE bucket = 'hour' (minute|hour|day).
SELECT date_trunc(coalesce(getvariable('bucket'), 'day'), pulled_at) AS period,
       arg_max(sum_of_post_reach, pulled_at) AS sum_of_post_reach,
       arg_max(views, pulled_at) AS views,
       arg_max(engagements, pulled_at) AS engagements,
       arg_max(posts_measured, pulled_at) AS posts,
       CASE WHEN bool_and(sandbox) THEN 'sandbox' WHEN bool_or(sandbox) THEN 'sandbox+live' ELSE 'live' END AS source
FROM metric_totals
WHERE campaign_id = getvariable('campaign_id')
GROUP BY period
ORDER BY period;
