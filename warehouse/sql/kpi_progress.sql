-- Progress against each KPI of the manifest, with the deadline and the pace needed per day.
-- value is NULL when no post in scope has a figure for the metric yet (unknown, not zero).
-- Variables: SET VARIABLE campaign_id = 'first-vote'; optional SET VARIABLE as_of = DATE '2027-01-15';
SELECT objective_id, kpi_index, metric, measure, countries, languages, platforms, value, target, progress, deadline,
       as_of, days_left, needed_per_day, per_day_so_far, on_track, posts_in_scope, posts_measured, platforms_missing,
       source, description
FROM kpi_progress
WHERE campaign_id = getvariable('campaign_id')
ORDER BY objective_id, kpi_index;
