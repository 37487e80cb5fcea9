-- 040: the metric vocabulary as tables, the pull log, payloads kept once per post and pull for audit, and the
-- current value of every post metric kept up to date by each pull (so reports never rescan the whole history).

-- Filled from campaign/metrics.py by warehouse.snapshots.sync_vocabulary (so any DuckDB client can read it).
CREATE TABLE IF NOT EXISTS metric_definitions (
    canonical_name VARCHAR PRIMARY KEY,
    label          VARCHAR NOT NULL,
    unit           VARCHAR NOT NULL,
    unique_count   BOOLEAN NOT NULL,
    derived        BOOLEAN NOT NULL,
    definition     VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS metric_mappings (
    platform           VARCHAR NOT NULL,     -- the metric vocabulary ("sandbox" for sandbox posts)
    raw_name           VARCHAR NOT NULL,
    canonical_name     VARCHAR,              -- NULL: known and deliberately not mapped (see note)
    definition_version VARCHAR,
    scale              DOUBLE NOT NULL DEFAULT 1,
    part               BOOLEAN NOT NULL DEFAULT false,
    rank               INTEGER NOT NULL DEFAULT 0,
    status             VARCHAR NOT NULL,     -- current | renamed | deprecated | retired | unmapped
    replaced_by        VARCHAR,
    valid_from         DATE,
    valid_until        DATE,
    definition         VARCHAR,
    source             VARCHAR,
    note               VARCHAR,
    PRIMARY KEY (platform, raw_name)
);

CREATE TABLE IF NOT EXISTS metric_vocabulary_state (
    fingerprint VARCHAR NOT NULL,
    synced_at   TIMESTAMPTZ NOT NULL
);

ALTER TABLE metric_snapshots ADD COLUMN IF NOT EXISTS pull_id VARCHAR;
ALTER TABLE metric_snapshots ADD COLUMN IF NOT EXISTS payload_no INTEGER;

-- One row per distinct payload of a pull (a platform answer usually covers every metric of a post).
CREATE TABLE IF NOT EXISTS metric_payloads (
    pull_id    VARCHAR NOT NULL,
    payload_no INTEGER NOT NULL,
    payload    JSON
);

CREATE TABLE IF NOT EXISTS metric_pulls (
    pull_id         VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    posts_due       INTEGER,
    posts_answered  INTEGER,
    readings        INTEGER,
    snapshots_added INTEGER,
    errors          INTEGER,
    detail          JSON
);

-- Every attempt to read one post's metrics, answered or not: the cadence counts from here, so a platform that
-- answers nothing yet (Instagram lags up to 48 h) is asked again on schedule, not on every run.
CREATE TABLE IF NOT EXISTS metric_pull_log (
    pull_id         VARCHAR NOT NULL,
    idempotency_key VARCHAR NOT NULL,
    platform        VARCHAR NOT NULL,
    account_id      VARCHAR,
    attempted_at    TIMESTAMPTZ NOT NULL,
    outcome         VARCHAR NOT NULL,        -- answered | empty | error
    readings        INTEGER NOT NULL DEFAULT 0,
    error           VARCHAR
);

-- The current state of each post metric, merged by every append: latest value, and the value measured closest
-- to a fixed post age (24 h, 7 d, 30 d; within +-10 % of that age, otherwise NULL = not measured then).
CREATE TABLE IF NOT EXISTS metric_current (
    idempotency_key    VARCHAR NOT NULL,
    raw_name           VARCHAR NOT NULL,
    campaign_id        VARCHAR NOT NULL,
    platform           VARCHAR NOT NULL,
    canonical_name     VARCHAR,
    definition_version VARCHAR,
    sandbox            BOOLEAN NOT NULL,
    first_pulled_at    TIMESTAMPTZ NOT NULL,
    last_pulled_at     TIMESTAMPTZ NOT NULL,
    last_raw_value     DOUBLE,
    last_value         DOUBLE,
    snapshots          BIGINT NOT NULL,
    at_24h             DOUBLE,
    at_24h_age_s       DOUBLE,
    at_7d              DOUBLE,
    at_7d_age_s        DOUBLE,
    at_30d             DOUBLE,
    at_30d_age_s       DOUBLE,
    PRIMARY KEY (idempotency_key, raw_name)
);
