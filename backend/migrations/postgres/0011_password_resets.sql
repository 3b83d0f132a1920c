-- Password-reset tokens, stored only as their SHA-256 hash. At most one works per account: a newer
-- request marks the older used, and so does its use (single use).
CREATE TABLE password_resets (
    token_hash TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_by_user ON password_resets (user_id);
