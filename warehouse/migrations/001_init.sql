-- 001: the core tables of one or more campaigns: what came in, what was made, what was posted, what it achieved.

CREATE TABLE campaigns (
    campaign_id   VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    manifest      JSON NOT NULL,
    loaded_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE organisations (
    campaign_id     VARCHAR NOT NULL,
    organisation_id VARCHAR NOT NULL,
    name            VARCHAR NOT NULL,
    PRIMARY KEY (campaign_id, organisation_id)
);

CREATE TABLE accounts (
    campaign_id     VARCHAR NOT NULL,
    account_id      VARCHAR NOT NULL,
    platform        VARCHAR NOT NULL,
    organisation_id VARCHAR NOT NULL,
    handle          VARCHAR NOT NULL,
    countries       VARCHAR[] NOT NULL,
    languages       VARCHAR[] NOT NULL,
    sandbox         BOOLEAN NOT NULL,
    PRIMARY KEY (campaign_id, account_id)
);

CREATE TABLE kpis (
    campaign_id   VARCHAR NOT NULL,
    objective_id  VARCHAR NOT NULL,
    kpi_index     INTEGER NOT NULL,
    metric        VARCHAR NOT NULL,
    target        DOUBLE NOT NULL,
    countries     VARCHAR[] NOT NULL,
    languages     VARCHAR[] NOT NULL,
    platforms     VARCHAR[] NOT NULL,
    deadline      DATE,
    description   VARCHAR,
    PRIMARY KEY (campaign_id, objective_id, kpi_index)
);

CREATE TABLE assets (
    campaign_id   VARCHAR NOT NULL,
    asset_id      VARCHAR NOT NULL,
    source_key    VARCHAR,
    language      VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,          -- received | captioned | rendered | failed
    error         VARCHAR,
    duration_s    DOUBLE,
    width         INTEGER,
    height        INTEGER,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, asset_id)
);

CREATE TABLE captions (
    campaign_id          VARCHAR NOT NULL,
    asset_id             VARCHAR NOT NULL,
    language             VARCHAR NOT NULL,
    origin               VARCHAR NOT NULL,   -- automatic | file | machine-translation | translator-file
    reviewed             BOOLEAN NOT NULL DEFAULT false,
    reviewed_by          VARCHAR,
    srt_key              VARCHAR,
    vtt_key              VARCHAR,
    json_key             VARCHAR,
    cue_count            INTEGER,
    detected_language    VARCHAR,
    language_probability DOUBLE,
    provider             VARCHAR,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, asset_id, language)
);

CREATE TABLE variants (
    variant_id    VARCHAR PRIMARY KEY,
    campaign_id   VARCHAR NOT NULL,
    asset_id      VARCHAR NOT NULL,
    language      VARCHAR NOT NULL,
    format        VARCHAR NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    key           VARCHAR,
    status        VARCHAR NOT NULL,          -- rendered | failed
    error         VARCHAR,
    duration_s    DOUBLE,
    size_bytes    BIGINT,
    rendered_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The publishing ledger: one row per variant x account, written before any side effect.
CREATE TABLE posts (
    idempotency_key  VARCHAR PRIMARY KEY,
    campaign_id      VARCHAR NOT NULL,
    asset_id         VARCHAR NOT NULL,
    variant_id       VARCHAR NOT NULL,
    language         VARCHAR NOT NULL,
    format           VARCHAR NOT NULL,
    account_id       VARCHAR NOT NULL,
    platform         VARCHAR NOT NULL,
    organisation_id  VARCHAR NOT NULL,
    country          VARCHAR NOT NULL,
    sandbox          BOOLEAN NOT NULL,
    scheduled_at     TIMESTAMPTZ NOT NULL,
    state            VARCHAR NOT NULL,       -- planned | uploading | processing | scheduled | published | failed | unknown | held | cancelled
    platform_post_id VARCHAR,
    platform_ref     JSON,                   -- handles needed to resume or reconcile (publish_id, container id, session URI)
    post_url         VARCHAR,
    attempts         INTEGER NOT NULL DEFAULT 0,
    error_kind       VARCHAR,
    last_error       VARCHAR,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at     TIMESTAMPTZ
);

CREATE TABLE post_events (
    idempotency_key VARCHAR NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    from_state      VARCHAR,
    to_state        VARCHAR NOT NULL,
    detail          VARCHAR
);

-- Append-only metric history: one row per post, metric and pull.
CREATE TABLE metric_snapshots (
    campaign_id        VARCHAR NOT NULL,
    idempotency_key    VARCHAR NOT NULL,
    platform           VARCHAR NOT NULL,
    platform_post_id   VARCHAR NOT NULL,
    pulled_at          TIMESTAMPTZ NOT NULL,
    post_age_s         DOUBLE,
    raw_name           VARCHAR NOT NULL,
    raw_value          DOUBLE,
    canonical_name     VARCHAR,              -- NULL when Chorus does not know the raw name (kept, never zeroed)
    canonical_value    DOUBLE,
    definition_version VARCHAR,
    sandbox            BOOLEAN NOT NULL DEFAULT false,
    payload            JSON
);
