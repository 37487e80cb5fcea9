-- 030: what exactly-once publishing needs beyond the ledger of 001: when a post may next be tried (after a rate
-- limit or a temporary fault), when Chorus first acted on it (daily post caps count these), and each account's
-- connection status (an account whose token cannot be refreshed holds its posts until a person reconnects it).

ALTER TABLE posts ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE posts ADD COLUMN started_at TIMESTAMPTZ;

CREATE TABLE account_status (
    account_id   VARCHAR NOT NULL,
    platform     VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,            -- ok | needs_reconnect | error
    message      VARCHAR,                     -- in words for the comms officer, with the platform's reason
    checked_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, platform)
);
