"""Planning: which variants a campaign needs and which posts (variant x account) at which local slot."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from campaign.ids import idempotency_key, variant_id
from campaign.manifest import Account, Asset, Manifest
from campaign.platforms import VideoFormat, format_for


@dataclass(frozen=True)
class VariantSpec:
    campaign_id: str
    asset_id: str
    language: str
    format: VideoFormat

    @property
    def id(self) -> str:
        return variant_id(self.campaign_id, self.asset_id, self.language, f"{self.format.name}-{self.format.width}x{self.format.height}")


@dataclass(frozen=True)
class PostSpec:
    idempotency_key: str
    variant: VariantSpec
    account: Account
    country: str
    scheduled_at: dt.datetime  # timezone-aware, UTC


def account_format(manifest: Manifest, account: Account) -> VideoFormat:
    return format_for(account.platform, account.format or manifest.formats.get(account.platform))


def variants_for(manifest: Manifest, asset: Asset) -> list[VariantSpec]:
    """One variant per language x format that some account needs."""
    seen: dict[tuple[str, str, int, int], VariantSpec] = {}
    for account in manifest.accounts:
        fmt = account_format(manifest, account)
        for lang in account.languages:
            key = (lang, fmt.name, fmt.width, fmt.height)
            if key not in seen:
                seen[key] = VariantSpec(manifest.id, asset.id, lang, fmt)
    return sorted(seen.values(), key=lambda v: (v.language, v.format.name, v.format.width))


def slot_times(manifest: Manifest, country: str, after: dt.datetime) -> list[dt.datetime]:
    """Every posting slot of the campaign window in the country's local time, as UTC instants after `after`.

    Local wall-clock times are converted per day through zoneinfo, so a slot stays at 18:00 local across a
    daylight-saving change; a slot that does not exist that day (spring-forward gap) is moved forward by the gap.
    """
    zone = manifest.country(country).zone
    out: list[dt.datetime] = []
    day = manifest.schedule.start
    while day <= manifest.schedule.end:
        for slot in manifest.schedule.slots_for(country):
            hh, mm = (int(x) for x in slot.split(":"))
            local = dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone)
            # fold=0: a time in the spring-forward gap maps past the gap (02:30 -> 03:30), a repeated
            # autumn time to its first occurrence, so every slot happens exactly once.
            instant = local.astimezone(dt.timezone.utc)
            if instant > after:
                out.append(instant)
        day += dt.timedelta(days=1)
    return out


def plan_posts(manifest: Manifest, asset: Asset, now: dt.datetime, taken: dict[str, int] | None = None) -> list[PostSpec]:
    """One post per variant x account, each at the account's next free slot (one post per account per slot).

    `taken` counts slots already used per account by earlier assets, so a second asset goes to later slots.
    """
    taken = dict(taken or {})
    posts: list[PostSpec] = []
    variants = {(v.language, v.format): v for v in variants_for(manifest, asset)}
    for account in manifest.accounts:
        fmt = account_format(manifest, account)
        country = account.countries[0]
        slots = slot_times(manifest, country, now)
        for lang in account.languages:
            variant = variants[(lang, fmt)]
            index = taken.get(account.id, 0)
            # Past the window's last slot the post goes at the last slot: late beats lost.
            when = slots[min(index, len(slots) - 1)] if slots else now
            taken[account.id] = index + 1
            posts.append(PostSpec(
                idempotency_key(manifest.id, asset.id, lang, fmt.name, account.id),
                variant, account, country, when,
            ))
    return posts
