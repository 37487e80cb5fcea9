"""The canonical metric vocabulary: one name per concept, mapped from each platform's own names with its definition."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CanonicalMetric:
    name: str
    definition: str
    unit: str = "count"
    # Unique counts (reach) cannot be summed across posts without saying so.
    unique: bool = False


CANONICAL_METRICS: dict[str, CanonicalMetric] = {
    m.name: m
    for m in [
        CanonicalMetric("views", "times the video started playing (platform's own view definition)"),
        CanonicalMetric("reach", "unique accounts that saw the post at least once", unique=True),
        CanonicalMetric("impressions", "times the post was shown on screen"),
        CanonicalMetric("likes", "likes or reactions"),
        CanonicalMetric("comments", "comments and replies"),
        CanonicalMetric("shares", "shares, reposts and retweets"),
        CanonicalMetric("saves", "saves and bookmarks"),
        CanonicalMetric("watch_time", "total time watched", unit="seconds"),
        CanonicalMetric("avg_watch_time", "average time watched per view", unit="seconds"),
        CanonicalMetric("completion_rate", "share of views that reached the end", unit="ratio"),
        CanonicalMetric("followers_gained", "followers or subscribers gained from the post"),
        CanonicalMetric("clicks", "clicks on the post or its link"),
        CanonicalMetric("engagements", "likes + comments + shares + saves as the platform counts them"),
    ]
}


@dataclass(frozen=True)
class MetricMapping:
    """How one platform's metric name maps to a canonical one, and since when that definition holds."""

    platform: str
    raw_name: str
    canonical: str
    definition_version: str
    scale: float = 1.0


# platform -> raw name -> mapping. Sandbox uses canonical names directly.
MAPPINGS: dict[str, dict[str, MetricMapping]] = {}


def _register(platform: str, version: str, pairs: dict[str, str | tuple[str, float]]) -> None:
    table = MAPPINGS.setdefault(platform, {})
    for raw, target in pairs.items():
        canonical, scale = (target, 1.0) if isinstance(target, str) else target
        table[raw] = MetricMapping(platform, raw, canonical, version, scale)


_register("sandbox", "sandbox-1", {m: m for m in CANONICAL_METRICS})
_register("tiktok", "display-api-v2", {
    "view_count": "views", "like_count": "likes", "comment_count": "comments", "share_count": "shares",
})
_register("youtube", "data-v3+analytics-v2", {
    "viewCount": "views", "likeCount": "likes", "commentCount": "comments",
    "views": "views", "likes": "likes", "comments": "comments", "shares": "shares",
    "estimatedMinutesWatched": ("watch_time", 60.0), "averageViewDuration": "avg_watch_time",
    "subscribersGained": "followers_gained",
})
_register("instagram", "graph-2024-07", {
    "views": "views", "reach": "reach", "likes": "likes", "comments": "comments", "shares": "shares",
    "saved": "saves", "total_interactions": "engagements",
    "ig_reels_avg_watch_time": ("avg_watch_time", 0.001), "ig_reels_video_view_total_time": ("watch_time", 0.001),
    # Retired names kept so an old payload is still understood, not silently dropped.
    "plays": "views",
})
_register("facebook", "graph-reels", {
    "blue_reels_play_count": "views", "fb_reels_total_plays": "views", "post_impressions_unique": "reach",
    "post_video_avg_time_watched": ("avg_watch_time", 0.001), "post_video_view_time": ("watch_time", 0.001),
    "post_video_likes_by_reaction_type": "likes",
})
_register("linkedin", "share-statistics-202601", {
    "impressionCount": "impressions", "uniqueImpressionsCount": "reach", "clickCount": "clicks",
    "likeCount": "likes", "commentCount": "comments", "shareCount": "shares",
})
_register("x", "v2", {
    "impression_count": "impressions", "like_count": "likes", "reply_count": "comments",
    "retweet_count": "shares", "quote_count": "shares", "bookmark_count": "saves", "view_count": "views",
})


def canonical(platform: str, raw_name: str) -> MetricMapping | None:
    """The mapping for a platform's raw metric name, or None when Chorus does not know it (kept raw, never zeroed)."""
    return MAPPINGS.get(platform, {}).get(raw_name)
