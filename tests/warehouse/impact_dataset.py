"""A small metric data set with known answers: one campaign, seven posts on six vocabularies, platform-shaped raw
names (Instagram renaming `plays` to `views`, X shares in two parts, a lagging Instagram post with no figures),
and the expected figures computed here from the same inputs, independently of the SQL under test."""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

import duckdb

from warehouse.snapshots import Snapshot, append_snapshots

CID = "impact-test"
T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)   # first publication
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)  # report time
AS_OF = dt.date(2026, 12, 1)                                    # deadline reference
DEADLINE = dt.date(2026, 12, 31)


@dataclass(frozen=True)
class Post:
    key: str
    org: str
    country: str
    language: str
    platform: str
    vocab: str
    format: str
    asset: str
    published_at: dt.datetime
    # canonical figures of the latest pull (what the report must show), before any platform naming
    final: dict[str, float]


H = 3600.0
POSTS = [
    Post("k-tt-de", "junge", "DE", "de", "tiktok", "tiktok", "9:16", "a1", T0,
         {"views": 10000, "likes": 500, "comments": 50, "shares": 100}),
    Post("k-tt-ar", "junge", "DE", "ar", "tiktok", "tiktok", "9:16", "a1", T0,
         {"views": 4000, "likes": 400, "comments": 40, "shares": 60}),
    Post("k-sbx-de", "junge", "DE", "de", "tiktok", "sandbox", "9:16", "a1", T0,
         {"views": 3500, "reach": 3000, "likes": 100, "comments": 10, "shares": 10, "saves": 30}),
    Post("k-ig-es", "voz", "ES", "es", "instagram", "instagram", "9:16", "a1", T0,
         {"views": 6000, "reach": 5000, "likes": 300, "comments": 30, "shares": 30, "saves": 40}),
    Post("k-yt-ie", "votes", "IE", "en", "youtube", "youtube", "9:16", "a1", T0,
         {"views": 8000, "likes": 240, "comments": 16, "watch_time": 6000}),
    Post("k-li-ie", "votes", "IE", "en", "linkedin", "linkedin", "1:1", "a1", T0,
         {"views": 1500, "reach": 2000, "impressions": 3000, "likes": 30, "comments": 5, "shares": 5, "clicks": 50}),
    Post("k-x-ie", "votes", "IE", "en", "x", "x", "16:9", "a2", T0,
         {"views": 2500, "impressions": 9000, "likes": 100, "comments": 10, "shares": 25, "saves": 15}),
    # Published an hour before the report: Instagram has nothing yet (it lags up to 48 h).
    Post("k-ig-es-new", "voz", "ES", "es", "instagram", "instagram", "9:16", "a1", NOW - dt.timedelta(hours=1), {}),
]

ORGS = {"junge": "Junge Stimmen e.V.", "voz": "Voz Joven", "votes": "Votes Europe Coalition"}

KPIS = [  # (objective, metric, target, countries, languages, platforms)
    ("reach-all", "reach", 20000, [], [], []),
    ("views-de", "views", 35000, ["DE"], [], []),
    ("impressions", "impressions", 20000, [], [], []),
    ("x-shares", "shares", 50, [], [], ["x"]),
    ("quality", "engagement_rate", 0.05, [], [], []),
]


def _raw(post: Post, at: dt.datetime, fraction: float, *, old_names: bool = False) -> list[Snapshot]:
    """Platform-shaped readings for a post at a time: `fraction` of its final figures, under the platform's names."""
    f = {k: math.floor(v * fraction) for k, v in post.final.items()}
    age = (at - post.published_at).total_seconds()
    payload = {"source": post.vocab, "fraction": fraction}
    names: list[tuple[str, float]] = []
    if post.vocab == "tiktok":
        names = [("view_count", f["views"]), ("like_count", f["likes"]), ("comment_count", f["comments"]),
                 ("share_count", f["shares"])]
    elif post.vocab == "sandbox":
        names = list(f.items())
    elif post.vocab == "instagram":
        names = [("plays" if old_names else "views", f["views"]), ("reach", f["reach"]), ("likes", f["likes"]),
                 ("comments", f["comments"]), ("shares", f["shares"] - f["shares"] // 3),
                 ("reposts", f["shares"] // 3), ("saved", f["saves"]),
                 ("total_interactions", f["likes"] + f["comments"] + f["shares"] + f["saves"])]
    elif post.vocab == "youtube":
        # Data API live counter and the (lagging, lower) Analytics figure in the same pull: viewCount wins.
        names = [("viewCount", f["views"]), ("views", math.floor(f["views"] * 0.9)), ("likeCount", f["likes"]),
                 ("commentCount", f["comments"]), ("estimatedMinutesWatched", f["watch_time"] / 60.0),
                 ("favoriteCount", 0)]
    elif post.vocab == "linkedin":
        names = [("impressionCount", f["impressions"]), ("uniqueImpressionsCount", f["reach"]),
                 ("clickCount", f["clicks"]), ("likeCount", f["likes"]), ("commentCount", f["comments"]),
                 ("shareCount", f["shares"]), ("VIDEO_VIEW", f["views"]), ("engagement", 0.03)]
    elif post.vocab == "x":
        names = [("impression_count", f["impressions"]), ("view_count", f["views"]), ("like_count", f["likes"]),
                 ("reply_count", f["comments"]), ("retweet_count", f["shares"] - min(5, f["shares"])),
                 ("quote_count", min(5, f["shares"])),
                 ("bookmark_count", f["saves"]), ("brand_new_metric", 7)]
    return [Snapshot(CID, post.key, post.vocab, "pp-" + post.key, at, age, n, float(v), post.vocab == "sandbox",
                     payload) for n, v in names]


def pulls() -> list[list[Snapshot]]:
    """The pulls of the data set, oldest first: ages 1 h, 24 h, 7 d and the last one at NOW (20 days)."""
    out = []
    for age_h, fraction in ((1, 0.1), (24, 0.5), (168, 0.9)):
        batch = []
        for p in POSTS:
            if p.final:
                # Instagram still used the old name `plays` in the first two pulls.
                batch += _raw(p, p.published_at + dt.timedelta(hours=age_h), fraction,
                              old_names=p.vocab == "instagram" and age_h <= 24)
        out.append(batch)
    out.append([s for p in POSTS if p.final for s in _raw(p, NOW, 1.0)])
    return out


def load(con: duckdb.DuckDBPyConnection) -> None:
    """Campaign rows, posts in the ledger and every pull of the data set."""
    manifest = {"posts": {"de": {"default": {"title": "x"}, "tiktok": {"title": "y"}}}}
    con.execute("INSERT INTO campaigns (campaign_id, name, manifest) VALUES (?, ?, ?)",
                [CID, "Impact test", json.dumps(manifest)])
    for org, name in ORGS.items():
        con.execute("INSERT INTO organisations VALUES (?, ?, ?)", [CID, org, name])
    for i, (obj, metric, target, countries, languages, platforms) in enumerate(KPIS):
        con.execute("INSERT INTO kpis VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
                    [CID, obj, metric, target, countries, languages, platforms, DEADLINE, f"KPI {i}"])
    for p in POSTS:
        con.execute(
            """INSERT INTO posts (idempotency_key, campaign_id, asset_id, variant_id, language, format, account_id,
                   platform, organisation_id, country, sandbox, scheduled_at, state, platform_post_id, published_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'published', ?, ?)""",
            [p.key, CID, p.asset, f"{p.asset}-{p.language}-{p.format}", p.language, p.format, f"{p.org}-{p.platform}",
             p.platform, p.org, p.country, p.vocab == "sandbox", p.published_at, "pp-" + p.key, p.published_at])
    for batch in pulls():
        append_snapshots(con, batch)


# -- expected answers, computed from POSTS -------------------------------------------------------------------

def engagements(p: Post) -> float | None:
    parts = [p.final.get(k) for k in ("likes", "comments", "shares", "saves")]
    return None if all(v is None for v in parts) else sum(v or 0 for v in parts)


def expected_sum(metric: str, **where: str) -> float | None:
    values = [p.final.get(metric) for p in POSTS if all(getattr(p, k) == v for k, v in where.items())]
    values = [v for v in values if v is not None]
    return sum(values) if values else None


def expected_engagement_rate(posts: list[Post]) -> float:
    both = [p for p in posts if p.final.get("views") and engagements(p) is not None]
    return sum(engagements(p) for p in both) / sum(p.final["views"] for p in both)


def wilson(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    p = min(successes / n, 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half
