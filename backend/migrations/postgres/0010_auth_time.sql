-- When the user of a session last proved who they are (login, re-authentication), in milliseconds,
-- and how (RFC 8176 values, comma-separated). A refresh copies both into every access token and never
-- changes them. A session opened by an earlier release was opened by a password at its creation.
ALTER TABLE sessions ADD COLUMN auth_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
UPDATE sessions SET auth_time = created_at;
