-- Variants of the same asset compared on engagement rate (engagements per view) by language, format, platform and
-- caption style, with 95 % intervals. `sure` is true when the best variant's lead (or this variant's gap to the
-- best) is larger than chance would explain.
-- Variables: SET VARIABLE campaign_id = 'first-vote';
SELECT asset_id, dimension, rank, variant, posts, views, engagements, rate, rate_low, rate_high,
       compared_with, diff, diff_low, diff_high, sure, source
FROM variant_comparison
WHERE campaign_id = getvariable('campaign_id')
ORDER BY asset_id, dimension, rank;
