"""The canonical metric vocabulary: one name per concept, mapped from each platform's own names with its definition.

Every platform counts differently and renames its metrics over time. A snapshot keeps the platform's raw name and
value; the mapping here gives it a canonical name, the unit conversion, and the version of the definition the
platform used, so a campaign compares like with like and a renamed metric (Meta's `plays` -> `views`) continues
the same series instead of silently becoming a zero or a gap.

Two raw names can feed one canonical metric in two ways:
- *alternatives* (`part=False`): old and new names of the same figure; when both arrive in one pull the lowest
  `rank` wins (the current name is rank 0), so nothing is counted twice;
- *parts* (`part=True`): figures that add up to the canonical one (X: retweets + quotes = shares).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class CanonicalMetric:
    name: str
    definition: str
    unit: str = "count"
    # Unique counts (reach) cannot be summed across posts without saying so ("sum of post reach").
    unique: bool = False
    # Computed by Chorus from other canonical metrics rather than read from one platform figure.
    derived: bool = False
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")


CANONICAL_METRICS: dict[str, CanonicalMetric] = {
    m.name: m
    for m in [
        CanonicalMetric("views", "times the video started playing, as the platform defines a view (see its definition)"),
        CanonicalMetric("reach", "unique accounts that saw the post at least once", unique=True),
        CanonicalMetric("impressions", "times the post was shown on screen, repeats included"),
        CanonicalMetric("likes", "likes or reactions"),
        CanonicalMetric("comments", "comments and replies"),
        CanonicalMetric("shares", "shares, sends, reposts, retweets and quotes"),
        CanonicalMetric("saves", "saves and bookmarks"),
        CanonicalMetric("watch_time", "total time watched over all views", unit="seconds"),
        CanonicalMetric("avg_watch_time", "average time watched per view", unit="seconds"),
        CanonicalMetric("completion_rate", "share of views that reached the end of the video", unit="ratio"),
        CanonicalMetric("avg_percent_viewed", "average share of the video's length watched per view", unit="ratio"),
        CanonicalMetric("completions", "views that reached the end of the video"),
        CanonicalMetric("replays", "plays after the first one by the same viewer"),
        CanonicalMetric("followers_gained", "followers or subscribers gained from the post"),
        CanonicalMetric("followers_lost", "followers or subscribers lost after the post"),
        CanonicalMetric("clicks", "clicks on the post, its link or the profile from it"),
        CanonicalMetric("engagements", "likes + comments + shares + saves, computed by Chorus the same way on every "
                                       "platform (a platform's own interaction total is kept as platform_engagements)",
                        derived=True),
        CanonicalMetric("platform_engagements", "the platform's own interaction total (its definition differs by platform)"),
        CanonicalMetric("engagement_rate", "engagements / views of the same posts (Chorus's definition on every platform)",
                        unit="ratio", derived=True),
        CanonicalMetric("skip_rate", "share of plays skipped in the first seconds", unit="ratio"),
    ]
}


@dataclass(frozen=True)
class MetricMapping:
    """How one platform's metric name maps to a canonical one, under which definition, and since/until when."""

    platform: str
    raw_name: str
    canonical: str
    definition_version: str
    scale: float = 1.0
    definition: str = ""
    # "current" | "renamed" (an old name of a figure that continues under `replaced_by`) | "deprecated"
    # (still answered for some media) | "retired" (no longer answered; old snapshots are still understood).
    status: str = "current"
    replaced_by: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    part: bool = False
    rank: int = 0
    source: str = ""
    note: str = ""


# platform -> raw name -> mapping.
MAPPINGS: dict[str, dict[str, MetricMapping]] = {}

# Raw names Chorus knows and deliberately does not map (retired or meaningless figures): kept raw, with the reason,
# so they are reported as "known, not used" rather than "unknown".
UNMAPPED: dict[str, dict[str, str]] = {}


def _m(platform: str, version: str, source: str, raw: str, canonical_name: str, definition: str, **kw) -> None:
    if canonical_name not in CANONICAL_METRICS:
        raise ValueError(f"{platform}.{raw}: {canonical_name!r} is not a canonical metric")
    MAPPINGS.setdefault(platform, {})[raw] = MetricMapping(
        platform, raw, canonical_name, version, definition=definition, source=source, **kw)


# -- sandbox: canonical names directly ------------------------------------------------------------------------
for _name, _metric in CANONICAL_METRICS.items():
    if not _metric.derived:
        _m("sandbox", "sandbox-1", "connectors/sandbox.py", _name, _name, "simulated: " + _metric.definition)

# -- TikTok Display API v2 (video.list / video.query) ---------------------------------------------------------
_TT = ("display-api-v2", "developers.tiktok.com/doc/tiktok-api-v2-video-object")
_m("tiktok", *_TT, "view_count", "views", "video views as TikTok counts them (a play of any length, replays included)")
_m("tiktok", *_TT, "like_count", "likes", "likes")
_m("tiktok", *_TT, "comment_count", "comments", "comments")
_m("tiktok", *_TT, "share_count", "shares", "shares")

# -- YouTube Data API v3 statistics and YouTube Analytics API v2 ----------------------------------------------
_YT = ("data-v3", "developers.google.com/youtube/v3/docs/videos#statistics")
_YA = ("analytics-v2", "developers.google.com/youtube/analytics/metrics")
_m("youtube", *_YT, "viewCount", "views", "lifetime views (Shorts: counts every start or replay since 2025-03-31)")
_m("youtube", *_YT, "likeCount", "likes", "likes")
_m("youtube", *_YT, "commentCount", "comments", "comments")
# Analytics figures lag by up to two days; the Data API's live counters win when both arrive in one pull.
_m("youtube", *_YA, "views", "views", "views in the report window (Analytics; lags up to 48 h)", rank=1)
_m("youtube", *_YA, "likes", "likes", "likes (Analytics)", rank=1)
_m("youtube", *_YA, "comments", "comments", "comments (Analytics)", rank=1)
_m("youtube", *_YA, "shares", "shares", "times shared through the Share button")
_m("youtube", *_YA, "estimatedMinutesWatched", "watch_time", "minutes watched, converted to seconds", scale=60.0)
_m("youtube", *_YA, "averageViewDuration", "avg_watch_time", "average seconds watched per view")
_m("youtube", *_YA, "averageViewPercentage", "avg_percent_viewed", "average percent of the video watched",
   scale=0.01)
_m("youtube", *_YA, "subscribersGained", "followers_gained", "subscribers gained from the video")
_m("youtube", *_YA, "subscribersLost", "followers_lost", "subscribers lost from the video")
UNMAPPED["youtube"] = {
    "dislikeCount": "private since 2021-12-13: the API answers 0 for other people's videos, so it is not used",
    "favoriteCount": "deprecated by YouTube: always 0",
}

# -- Instagram Graph API media insights (Reels) ---------------------------------------------------------------
_IG = "developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights"
_IG_NOW = ("graph-v22-views", _IG)
_IG_OLD = ("graph-pre-v22-plays", _IG)
_m("instagram", *_IG_NOW, "views", "views", "times the reel was played or displayed, replays included",
   valid_from=dt.date(2024, 12, 1))
_m("instagram", *_IG_NOW, "reach", "reach", "unique accounts that saw the reel at least once")
_m("instagram", *_IG_NOW, "likes", "likes", "likes")
_m("instagram", *_IG_NOW, "comments", "comments", "comments")
_m("instagram", *_IG_NOW, "shares", "shares", "times the reel was sent or shared", part=True)
_m("instagram", *_IG_NOW, "reposts", "shares", "times the reel was reposted", part=True)
_m("instagram", *_IG_NOW, "saved", "saves", "saves")
_m("instagram", *_IG_NOW, "total_interactions", "platform_engagements",
   "likes + saves + comments + shares, minus unlikes, unsaves and deleted comments")
_m("instagram", *_IG_NOW, "ig_reels_avg_watch_time", "avg_watch_time", "average milliseconds watched, in seconds",
   scale=0.001)
_m("instagram", *_IG_NOW, "ig_reels_video_view_total_time", "watch_time",
   "total milliseconds watched including replays, in seconds", scale=0.001)
_m("instagram", *_IG_NOW, "reels_skip_rate", "skip_rate", "percent of plays skipped in the first 3 seconds",
   scale=0.01)
# Renamed: Meta replaced `plays` (and its all-plays variants) with `views`. An old series continues as views
# under its own definition version, so a report shows the change of definition instead of a drop to zero.
_m("instagram", *_IG_OLD, "plays", "views", "times the reel started to play, replays included (retired name)",
   status="renamed", replaced_by="views", valid_until=dt.date(2025, 4, 21), rank=1)
_m("instagram", *_IG_OLD, "ig_reels_aggregated_all_plays_count", "views",
   "plays on Instagram and Facebook, replays included (retired name)", status="renamed", replaced_by="views",
   valid_until=dt.date(2025, 4, 21), rank=2)
_m("instagram", *_IG_OLD, "clips_replays_count", "replays", "replays (retired)", status="retired",
   valid_until=dt.date(2025, 4, 21))
_m("instagram", *_IG_OLD, "video_views", "views", "video views (retired name)", status="renamed",
   replaced_by="views", valid_until=dt.date(2025, 4, 21), rank=3)
# `impressions` is not answered for media created after 2024-07-02 and is gone for all media since v22.
_m("instagram", *_IG_OLD, "impressions", "impressions", "times the media was on screen (retired)",
   status="deprecated", valid_until=dt.date(2024, 7, 2),
   note="not available for media created after 2024-07-02; retired for all media on 2025-04-21")

# -- Facebook Reels video insights ------------------------------------------------------------------------------
_FB = ("graph-reels-v21", "developers.facebook.com/docs/video-api/guides/reels-publishing#insights")
_m("facebook", *_FB, "blue_reels_play_count", "views", "times the reel started to play after an impression, "
   "replays excluded")
_m("facebook", *_FB, "fb_reels_replay_count", "replays", "replays")
_m("facebook", *_FB, "post_impressions_unique", "reach", "unique accounts the reel was shown to")
_m("facebook", *_FB, "post_video_avg_time_watched", "avg_watch_time", "average milliseconds watched, in seconds",
   scale=0.001)
_m("facebook", *_FB, "post_video_view_time", "watch_time", "total milliseconds watched, in seconds", scale=0.001)
_m("facebook", *_FB, "post_video_likes_by_reaction_type", "likes", "reactions of every type, summed")
# Object-valued metrics arrive split by key (connectors name them `metric.KEY`).
_m("facebook", *_FB, "post_video_social_actions.COMMENT", "comments", "comments")
_m("facebook", *_FB, "post_video_social_actions.SHARE", "shares", "shares")
UNMAPPED["facebook"] = {
    "fb_reels_total_plays": "initial plays + replays: not the same figure as views (blue_reels_play_count); "
                            "kept raw so the two are never mixed",
    "post_video_retention_graph": "a curve, not a single figure",
    "post_video_social_actions": "comments + shares together; counted through its parts .COMMENT and .SHARE",
    **{f"post_video_likes_by_reaction_type.{kind}": "one reaction type; likes count the total of every type"
       for kind in ("LIKE", "LOVE", "CARE", "HAHA", "WOW", "SORRY", "SAD", "ANGER", "ANGRY", "THANKFUL", "PRIDE")},
}

# -- LinkedIn organization share statistics and video analytics -----------------------------------------------
_LI = ("share-statistics-202601", "learn.microsoft.com/linkedin/marketing/community-management/organizations/share-statistics")
_LV = ("video-analytics-202601", "learn.microsoft.com/linkedin/marketing/community-management/shares/videos-api")
_m("linkedin", *_LI, "impressionCount", "impressions", "times the post was shown")
_m("linkedin", *_LI, "uniqueImpressionsCount", "reach", "unique members the post was shown to")
_m("linkedin", *_LI, "clickCount", "clicks", "clicks on the post, company name or logo")
_m("linkedin", *_LI, "likeCount", "likes", "reactions")
_m("linkedin", *_LI, "commentCount", "comments", "comments")
_m("linkedin", *_LI, "shareCount", "shares", "reshares")
_m("linkedin", *_LV, "VIDEO_VIEW", "views", "views of at least 2 seconds with half the video on screen")
_m("linkedin", *_LV, "VIEWER", "reach", "unique members who viewed the video", rank=1)
_m("linkedin", *_LV, "TIME_WATCHED", "watch_time", "milliseconds watched, in seconds", scale=0.001)
UNMAPPED["linkedin"] = {
    "engagement": "LinkedIn's ratio (clicks + likes + comments + shares + follows) / impressions; Chorus computes "
                  "engagement_rate the same way on every platform instead",
}

# -- X API v2 -----------------------------------------------------------------------------------------------------
_X = ("api-v2", "docs.x.com/x-api/fundamentals/metrics")
_m("x", *_X, "impression_count", "impressions", "times the post was seen")
_m("x", *_X, "like_count", "likes", "likes")
_m("x", *_X, "reply_count", "comments", "replies")
_m("x", *_X, "retweet_count", "shares", "reposts", part=True)
_m("x", *_X, "quote_count", "shares", "quote posts", part=True)
_m("x", *_X, "bookmark_count", "saves", "bookmarks")
_m("x", *_X, "view_count", "views", "video views (media public_metrics)")
_m("x", *_X, "playback_100_count", "completions", "plays that reached 100% (needs a user token)")
_m("x", *_X, "url_link_clicks", "clicks", "clicks on the link in the post (needs a user token)")
UNMAPPED["x"] = {
    "user_profile_clicks": "clicks on the author's profile, not on the post or its link (user token only)",
    "playback_0_count": "plays started (user token only); views come from view_count",
    "playback_25_count": "quartile of a retention curve", "playback_50_count": "quartile of a retention curve",
    "playback_75_count": "quartile of a retention curve",
}


def canonical(platform: str, raw_name: str) -> MetricMapping | None:
    """The mapping for a platform's raw metric name, or None when Chorus does not map it (kept raw, never zeroed)."""
    return MAPPINGS.get(platform, {}).get(raw_name)


def unmapped_reason(platform: str, raw_name: str) -> str | None:
    """Why a known raw name is deliberately not mapped, or None when Chorus has never heard of it."""
    return UNMAPPED.get(platform, {}).get(raw_name)


def mappings_for(platform: str, canonical_name: str) -> list[MetricMapping]:
    """Every raw name of one platform that feeds a canonical metric, current first."""
    return sorted((m for m in MAPPINGS.get(platform, {}).values() if m.canonical == canonical_name),
                  key=lambda m: (m.rank, m.raw_name))


def available(platform: str, canonical_name: str, created: dt.date | None = None) -> MetricMapping | None:
    """The mapping a platform still answers for a metric on media created on `created`, or None when it cannot.

    Used to say "not available on Instagram since 2024-07-02" instead of showing a zero.
    """
    for m in mappings_for(platform, canonical_name):
        if m.status in {"current"}:
            return m
        if m.status == "deprecated" and created is not None and m.valid_until and created < m.valid_until:
            return m
    return None


def terminology() -> list[dict[str, str]]:
    """The common terminology table: one row per canonical metric with each platform's raw names."""
    rows = []
    platforms = [p for p in MAPPINGS if p != "sandbox"]
    for name, metric in CANONICAL_METRICS.items():
        row = {"metric": name, "unit": metric.unit, "definition": metric.definition}
        for p in platforms:
            names = []
            for m in mappings_for(p, name):
                tag = "" if m.status == "current" and not m.part else (
                    " (part)" if m.part else f" ({m.status}" + (f" {m.valid_until}" if m.valid_until else "") + ")")
                names.append(f"`{m.raw_name}`{tag}")
            row[p] = ", ".join(names) or ("computed" if metric.derived else "–")
        rows.append(row)
    return rows


def terminology_markdown() -> str:
    rows = terminology()
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |")
    return "\n".join(lines)


# How many posts one metrics request may name (platform limits: TikTok video.query takes 20 ids, YouTube
# videos.list 50, X tweets lookup 100, Graph API batch requests 50); the pull splits larger sets.
FETCH_BATCH: dict[str, int] = {
    "tiktok": 20, "youtube": 50, "x": 100, "instagram": 50, "facebook": 50, "linkedin": 20, "sandbox": 100,
}
DEFAULT_FETCH_BATCH = 20

# How late a platform's figures can be (hours): a post younger than this with no figure is "awaiting data",
# not "missing". Instagram insights lag up to 48 h (ig-media/insights reference); YouTube Analytics about 2 days.
REPORTING_LAG_H: dict[str, float] = {"instagram": 48.0, "facebook": 48.0, "youtube": 48.0}


def fetch_batch(platform: str) -> int:
    return FETCH_BATCH.get(platform, DEFAULT_FETCH_BATCH)
