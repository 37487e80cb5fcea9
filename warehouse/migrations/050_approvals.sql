-- 050: the approval gate: who approved (or rejected) which rendered variants of an asset before publishing.
-- Append-only; the latest decision for an asset is the one that counts, and it only counts for the variants it names.

CREATE TABLE approvals (
    campaign_id   VARCHAR NOT NULL,
    asset_id      VARCHAR NOT NULL,
    decision      VARCHAR NOT NULL,          -- approved | rejected
    decided_by    VARCHAR NOT NULL,          -- the name the person gave (Prefect UI form or `chorus approve --by`)
    note          VARCHAR,
    variants      VARCHAR[] NOT NULL,        -- the variant ids shown to the person when they decided
    channel       VARCHAR NOT NULL,          -- prefect (UI or API resume of the suspended run) | cli
    flow_run_id   VARCHAR,                   -- the suspended schedule run it resumed, when there was one
    decided_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
