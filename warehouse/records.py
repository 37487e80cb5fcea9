"""Writing what each stage produced: the campaign itself, assets, captions and variants."""
from __future__ import annotations

import json
from typing import Any

import duckdb

from campaign.manifest import Manifest


def upsert_campaign(con: duckdb.DuckDBPyConnection, manifest: Manifest) -> None:
    """Record the campaign, its organisations, accounts and KPIs (replacing the previous version of each)."""
    cid = manifest.id
    doc = manifest.model_dump(mode="json", exclude={"base_dir"})
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT OR REPLACE INTO campaigns (campaign_id, name, manifest, loaded_at) VALUES (?, ?, ?, now())",
            [cid, manifest.campaign.name, json.dumps(doc)],
        )
        for table in ("organisations", "accounts", "kpis"):
            con.execute(f"DELETE FROM {table} WHERE campaign_id = ?", [cid])
        con.executemany(
            "INSERT INTO organisations VALUES (?, ?, ?)", [[cid, o.id, o.name] for o in manifest.organisations]
        )
        con.executemany(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [[cid, a.id, a.platform.value, a.organisation, a.handle, a.countries, a.languages, a.sandbox] for a in manifest.accounts],
        )
        rows = []
        for o in manifest.objectives:
            for i, k in enumerate(o.kpis):
                rows.append([cid, o.id, i, k.metric, k.target, k.countries, k.languages,
                             [p.value for p in k.platforms], k.deadline, o.description])
        if rows:
            con.executemany("INSERT INTO kpis VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def upsert_asset(con: duckdb.DuckDBPyConnection, campaign_id: str, asset_id: str, *, language: str, status: str,
                 source_key: str | None = None, error: str | None = None, duration_s: float | None = None,
                 width: int | None = None, height: int | None = None) -> None:
    con.execute(
        """INSERT INTO assets (campaign_id, asset_id, source_key, language, status, error, duration_s, width, height, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())
           ON CONFLICT (campaign_id, asset_id) DO UPDATE SET
             source_key = coalesce(excluded.source_key, assets.source_key), language = excluded.language,
             status = excluded.status, error = excluded.error,
             duration_s = coalesce(excluded.duration_s, assets.duration_s),
             width = coalesce(excluded.width, assets.width), height = coalesce(excluded.height, assets.height),
             updated_at = now()""",
        [campaign_id, asset_id, source_key, language, status, error, duration_s, width, height],
    )


def upsert_caption(con: duckdb.DuckDBPyConnection, campaign_id: str, asset_id: str, language: str, *, origin: str,
                   reviewed: bool = False, reviewed_by: str | None = None, srt_key: str | None = None,
                   vtt_key: str | None = None, json_key: str | None = None, cue_count: int | None = None,
                   detected_language: str | None = None, language_probability: float | None = None,
                   provider: str | None = None) -> None:
    con.execute(
        """INSERT OR REPLACE INTO captions (campaign_id, asset_id, language, origin, reviewed, reviewed_by, srt_key, vtt_key,
               json_key, cue_count, detected_language, language_probability, provider, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())""",
        [campaign_id, asset_id, language, origin, reviewed, reviewed_by, srt_key, vtt_key, json_key, cue_count,
         detected_language, language_probability, provider],
    )


def upsert_variant(con: duckdb.DuckDBPyConnection, variant_id: str, *, campaign_id: str, asset_id: str, language: str,
                   format: str, width: int, height: int, status: str, key: str | None = None, error: str | None = None,
                   duration_s: float | None = None, size_bytes: int | None = None) -> None:
    con.execute(
        """INSERT OR REPLACE INTO variants (variant_id, campaign_id, asset_id, language, format, width, height, key, status,
               error, duration_s, size_bytes, rendered_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())""",
        [variant_id, campaign_id, asset_id, language, format, width, height, key, status, error, duration_s, size_bytes],
    )


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]
