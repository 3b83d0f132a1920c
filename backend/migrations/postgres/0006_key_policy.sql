-- The servers' key settings, written at every start, so `backend keys rotate` times a rotation (and
-- picks its algorithm) by the deployment's settings rather than by the shell it runs in.
CREATE TABLE key_policy (
    id                  INTEGER PRIMARY KEY,
    algorithm           TEXT NOT NULL,
    activation_delay_ms BIGINT NOT NULL,
    access_token_ttl_ms BIGINT NOT NULL,
    leeway_ms           BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
