"""Planning: variants per language x format, one post per variant x account, at local slots across DST changes."""
from __future__ import annotations

import datetime as dt

from campaign.manifest import load_manifest, parse_manifest
from campaign.plan import plan_posts, slot_times, variants_for
from tests.conftest import EXAMPLE_DIR

UTC = dt.timezone.utc


def _example():
    return load_manifest(EXAMPLE_DIR / "campaign.yaml")


def test_variants_are_one_per_language_and_format_the_accounts_need():
    m = _example()
    variants = variants_for(m, m.assets[0])
    pairs = {(v.language, v.format.name) for v in variants}
    # TikTok (de, ar), Instagram (es), YouTube (en) share 9:16; LinkedIn (en) adds 1:1.
    assert pairs == {("de", "9:16"), ("ar", "9:16"), ("es", "9:16"), ("en", "9:16"), ("en", "1:1")}
    assert len({v.id for v in variants}) == len(variants)


def test_one_post_per_variant_and_account_with_stable_keys():
    m = _example()
    now = dt.datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    posts = plan_posts(m, m.assets[0], now)
    assert len(posts) == sum(len(a.languages) for a in m.accounts)
    assert len({p.idempotency_key for p in posts}) == len(posts)
    again = plan_posts(m, m.assets[0], now + dt.timedelta(hours=5))
    assert {p.idempotency_key for p in posts} == {p.idempotency_key for p in again}
    for p in posts:
        assert p.scheduled_at > now
        assert p.variant.language in p.account.languages


def test_slots_keep_local_wall_clock_across_daylight_saving():
    m = _example()
    data = m.model_dump(mode="json", exclude={"base_dir"})
    data["schedule"] = {"start": "2026-03-27", "end": "2026-03-30", "slots": ["18:00"]}
    m2 = parse_manifest(data)
    times = slot_times(m2, "DE", dt.datetime(2026, 1, 1, tzinfo=UTC))
    # Berlin is UTC+1 before 29 March 2026 and UTC+2 after: 18:00 local is 17:00Z, then 16:00Z.
    assert [t.strftime("%m-%d %H:%M") for t in times] == ["03-27 17:00", "03-28 17:00", "03-29 16:00", "03-30 16:00"]


def test_a_slot_in_the_spring_forward_gap_still_happens_once():
    m = _example()
    data = m.model_dump(mode="json", exclude={"base_dir"})
    data["schedule"] = {"start": "2026-03-29", "end": "2026-03-29", "slots": ["02:30"]}
    times = slot_times(parse_manifest(data), "DE", dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert len(times) == 1
    assert times[0] == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_country_slots_and_second_asset_take_later_slots():
    m = _example()
    now = dt.datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    first = plan_posts(m, m.assets[0], now)
    es = [p for p in first if p.country == "ES"][0]
    assert es.scheduled_at.astimezone(m.country("ES").zone).strftime("%H:%M") in {"14:00", "21:30"}
    taken = {}
    for p in first:
        taken[p.account.id] = taken.get(p.account.id, 0) + 1
    second = plan_posts(m, m.assets[0], now, taken)
    by_account = {p.account.id: p.scheduled_at for p in first}
    for p in second:
        assert p.scheduled_at > by_account[p.account.id] or p.scheduled_at >= max(
            q.scheduled_at for q in first if q.account.id == p.account.id)
