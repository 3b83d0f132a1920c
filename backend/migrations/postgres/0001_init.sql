-- Times are Unix milliseconds. Refresh tokens appear only as SHA-256 hashes.
CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    username      TEXT    NOT NULL,
    email         TEXT    NOT NULL UNIQUE, -- stored lower-cased
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

-- One row per logged-in device. The refresh chain lives here: the live token's hash and the one before it.
CREATE TABLE sessions (
    id             TEXT    PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id      TEXT,
    device_name    TEXT,
    app_id         TEXT,
    created_at     BIGINT  NOT NULL,
    last_used_at   BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    max_expires_at BIGINT  NOT NULL,
    revoked_at     BIGINT ,
    revoked_reason TEXT,
    current_hash   TEXT    NOT NULL UNIQUE,
    previous_hash  TEXT    UNIQUE,
    rotated_at     BIGINT ,
    generation     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_user ON sessions (user_id, device_id);

-- Every retired token of a live session, so presenting any of them again is recognised as reuse.
CREATE TABLE retired_refresh_tokens (
    hash       TEXT    PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    retired_at BIGINT  NOT NULL
);
CREATE INDEX retired_refresh_tokens_by_session ON retired_refresh_tokens (session_id);

-- Failed logins per throttling key (an account or an IP) in a fixed window.
CREATE TABLE login_failures (
    key               TEXT    PRIMARY KEY,
    window_started_at BIGINT  NOT NULL,
    failures          BIGINT  NOT NULL
);
